"""The plain-HTTP part of the demo: a session-gated website behind 4 proxies.

The website bans a session at its 21st page, expires it after 4 seconds,
and rejects a session cookie presented from another proxy or User-Agent than
the one that got it. Four profiles (a proxy and a User-Agent each) give the
sessions their identities; lifecycle limits replace sessions before the
website would reject them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy import Request, Spider

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from scrapy.http import Response

    from scrapy_session_pools.testing import FakeProxy, FakeSite

PAGES = 120


class HTTPDemoSpider(Spider):
    """Requests every gated page of the demo website."""

    name = "http_demo"
    site_url = ""

    async def start(self) -> AsyncIterator[Request]:
        """Yield the requests of every page."""
        for page in range(PAGES):
            yield Request(f"{self.site_url}/page/{page}")

    def parse(self, response: Response) -> dict[str, Any]:
        """Return the URL of a page and the identity that fetched it."""
        return {"url": response.url, "identity": response.css("#identity::text").get()}


def settings_for(site: FakeSite, proxies: list[FakeProxy]) -> dict[str, Any]:
    """The settings.py of this crawl: our add-on alone, HTTP session settings.

    Without scrapy-zyte-api's download handler, sessions are HTTP sessions
    by default: no ZYTE_API_SESSION_KIND needed. (In a crawl through Zyte
    API, every request gets a Zyte API session unless told otherwise.)
    """
    return {
        "ADDONS": {"scrapy_session_pools.Addon": 500},
        "ZYTE_API_SESSION_ENABLED": True,
        "ZYTE_API_SESSION_POOL_SIZE": 4,
        "ZYTE_API_SESSION_STATS_PER_POOL": True,
        "ZYTE_API_SESSION_PARAMS": {"url": f"{site.url('/landing')}"},
        "ZYTE_API_SESSION_PROFILES": [
            {
                "name": proxy.name,
                "proxy": proxy.proxy_url,
                "headers": {"User-Agent": f"demo-browser/{proxy.name}"},
            }
            for proxy in proxies
        ],
        "ZYTE_API_SESSION_MAX_USES": 20,
        "ZYTE_API_SESSION_MAX_AGE": 3.5,
        "ZYTE_API_SESSION_DELAY": 0.1,
        "CONCURRENT_REQUESTS": 8,
    }
