"""Demo: a real crawl through the add-on against the bundled fake Zyte API.

Run it with ``bash scripts/demo.sh`` (or ``python -m demo.crawl`` in the
project's virtual environment). It needs no API key and no internet: the
fake Zyte API of :mod:`scrapy_session_pools.testing` runs on 127.0.0.1.

Four websites, four session pools:

- ``books.example``: well-behaved, sessions last.
- ``shop.example``: bans a session at its 6th use (Zyte API error 520).
- ``news.example``: expires a session after 4 uses (session-expired).
- ``grocery.example``: needs sessions set to a location (setLocation).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from scrapy import Request, Spider
from scrapy.crawler import AsyncCrawlerProcess

from scrapy_session_pools import SessionPoolsMiddleware
from scrapy_session_pools.stats import PREFIX
from scrapy_session_pools.testing import FakeZyteAPI

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from scrapy.crawler import Crawler
    from scrapy.http import Response

PAGES_PER_SITE = 24
SITES: dict[str, dict[str, Any]] = {
    "https://books.example/catalogue": {},
    "https://shop.example/products?ban_after=5": {},
    "https://news.example/articles?expire_after=4": {},
    "https://grocery.example/aisles": {
        "zyte_api_session_location": {"addressCountry": "US", "postalCode": "10001"}
    },
}


class DemoSpider(Spider):
    """Requests every page of every demo website."""

    name = "demo"

    async def start(self) -> AsyncIterator[Request]:
        """Yield the requests of every page of every website."""
        for url, meta in SITES.items():
            separator = "&" if "?" in url else "?"
            for page in range(PAGES_PER_SITE):
                yield Request(f"{url}{separator}page={page}", meta=dict(meta))

    def parse(self, response: Response) -> dict[str, Any]:
        """Return the URL of a page and the session that fetched it."""
        return {"url": response.url, "session": response.css("#session::text").get()}


def settings_for(server: FakeZyteAPI) -> dict[str, Any]:
    """Settings of the demo crawl: the two add-ons and a few session settings."""
    return {
        "ADDONS": {"scrapy_zyte_api.Addon": 500, "scrapy_session_pools.Addon": 510},
        "ZYTE_API_KEY": "demo-key-not-needed",
        "ZYTE_API_URL": server.api_url,
        "ZYTE_API_SESSION_ENABLED": True,
        "ZYTE_API_SESSION_POOL_SIZE": 3,
        "ZYTE_API_SESSION_STATS_PER_POOL": True,
        "CONCURRENT_REQUESTS": 8,
        "RETRY_TIMES": 5,
        "LOG_LEVEL": "WARNING",
        "TELNETCONSOLE_ENABLED": False,
    }


def pool_table(crawler: Crawler) -> list[tuple[str, ...]]:
    """Return one row of figures per pool, from the per-pool stats."""
    assert crawler.stats is not None
    pools: dict[str, dict[str, int]] = {}
    pool_prefix = f"{PREFIX}pools/"
    for key, value in crawler.stats.get_stats().items():
        if key.startswith(pool_prefix):
            pool, _, name = key[len(pool_prefix) :].partition("/")
            pools.setdefault(pool, {})[name] = value
    rows: list[tuple[str, ...]] = [
        (
            "pool",
            "created",
            "bad inits",
            "responses ok",
            "banned (520)",
            "expired",
            "failed checks",
        )
    ]
    for pool, figures in sorted(pools.items()):
        bad_inits = sum(
            figures.get(name, 0)
            for name in (
                "init/check-failed",
                "init/check-error",
                "init/param-error",
                "init/failed",
            )
        )
        rows.append(
            (
                pool,
                str(figures.get("init/check-passed", 0)),
                str(bad_inits),
                str(figures.get("use/check-passed", 0)),
                str(figures.get("use/failed", 0)),
                str(figures.get("use/expired", 0)),
                str(figures.get("use/check-failed", 0)),
            )
        )
    return rows


def print_report(crawler: Crawler, server: FakeZyteAPI) -> None:
    """Print what the crawl did with its sessions."""
    assert crawler.stats is not None
    rows = pool_table(crawler)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print()
    print("Session pools")
    for index, row in enumerate(rows):
        print(
            "  "
            + "  ".join(
                cell.ljust(width) for cell, width in zip(row, widths, strict=True)
            )
        )
        if index == 0:
            print("  " + "  ".join("-" * width for width in widths))
    middleware = crawler.get_downloader_middleware(SessionPoolsMiddleware)
    assert middleware is not None
    pools = list(middleware.manager.pools)
    created = sum(pool.created for pool in pools)
    retired: Counter[str] = Counter()
    for pool in pools:
        for reason, count in pool.retired.items():
            retired[reason.value] += count
    why = ", ".join(f"{count} {reason}" for reason, count in sorted(retired.items()))
    items = crawler.stats.get_value("item_scraped_count", 0)
    print()
    print(f"Sessions created:  {created}")
    print(f"Sessions replaced: {sum(retired.values())} ({why or 'none'})")
    print(f"Pages scraped:     {items} of {PAGES_PER_SITE * len(SITES)}")
    print(f"Zyte API calls:    {server.state()['requests']}")
    print(f"Close reason:      {crawler.stats.get_value('finish_reason')}")


def main() -> None:
    """Start the fake Zyte API, run the demo crawl and print its report."""
    with FakeZyteAPI() as server:
        process = AsyncCrawlerProcess(settings_for(server))
        crawler = process.create_crawler(DemoSpider)
        process.crawl(crawler)
        process.start()
        print_report(crawler, server)


if __name__ == "__main__":
    main()
