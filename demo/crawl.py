"""Demo: real crawls through the add-on against the bundled test servers.

Run it with ``bash scripts/demo.sh`` (or ``python -m demo.crawl`` in the
project's virtual environment). It needs no API key and no internet: the
fake Zyte API, the session-gated website and its proxies, all from
:mod:`scrapy_session_pools.testing`, run on 127.0.0.1. Two crawls run side
by side: one through Zyte API (:mod:`demo.zyte_api_crawl`) and one with plain
HTTP sessions (:mod:`demo.http_crawl`); each prints its per-pool report.
"""

from __future__ import annotations

from contextlib import ExitStack

from scrapy.crawler import AsyncCrawlerProcess

from scrapy_session_pools.testing import FakeProxy, FakeSite, FakeZyteAPI

from . import http_crawl, zyte_api_crawl
from .report import print_report


def main() -> None:
    """Start the test servers, run both crawls and print their reports."""
    with ExitStack() as servers:
        zyte_api = servers.enter_context(FakeZyteAPI())
        site = servers.enter_context(FakeSite(ban_after=20, expire_after=4.0))
        proxies = [
            servers.enter_context(FakeProxy(f"proxy{n}", auth=f"user{n}:secret{n}"))
            for n in range(1, 5)
        ]
        process = AsyncCrawlerProcess(
            {"LOG_LEVEL": "WARNING", "TELNETCONSOLE_ENABLED": False}
        )
        zyte_crawler = process.create_crawler(zyte_api_crawl.ZyteAPIDemoSpider)
        zyte_crawler.settings.setdict(zyte_api_crawl.settings_for(zyte_api), "project")
        http_spider = type(
            "HTTPDemoSpider",
            (http_crawl.HTTPDemoSpider,),
            {"site_url": site.url()},
        )
        http_crawler = process.create_crawler(http_spider)
        http_crawler.settings.setdict(http_crawl.settings_for(site, proxies), "project")
        process.crawl(zyte_crawler)
        process.crawl(http_crawler)
        process.start()
        print_report(
            "Zyte API sessions (fake Zyte API)",
            zyte_crawler,
            zyte_api_crawl.PAGES,
            zyte_api.state()["requests"],
        )
        print_report(
            "HTTP sessions (gated website, 4 proxies)",
            http_crawler,
            http_crawl.PAGES,
            site.state()["requests"],
        )


if __name__ == "__main__":
    main()
