"""The Zyte API part of the demo: four websites behind the fake Zyte API.

- ``books.example``: well-behaved, sessions last.
- ``shop.example``: bans a session at its 6th use (Zyte API error 520).
- ``news.example``: expires a session after 4 uses (session-expired).
- ``grocery.example``: needs sessions set to a location (setLocation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy import Request, Spider

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from scrapy.http import Response

    from scrapy_session_pools.testing import FakeZyteAPI

PAGES_PER_SITE = 24
SITES: dict[str, dict[str, Any]] = {
    "https://books.example/catalogue": {},
    "https://shop.example/products?ban_after=5": {},
    "https://news.example/articles?expire_after=4": {},
    "https://grocery.example/aisles": {
        "zyte_api_session_location": {"addressCountry": "US", "postalCode": "10001"}
    },
}
PAGES = PAGES_PER_SITE * len(SITES)


class ZyteAPIDemoSpider(Spider):
    """Requests every page of every demo website through Zyte API."""

    name = "zyte_api_demo"

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
    """The settings.py of this crawl: the two add-ons and session settings."""
    return {
        "ADDONS": {"scrapy_zyte_api.Addon": 500, "scrapy_session_pools.Addon": 510},
        "ZYTE_API_KEY": "demo-key-not-needed",
        "ZYTE_API_URL": server.api_url,
        "ZYTE_API_SESSION_ENABLED": True,
        "ZYTE_API_SESSION_POOL_SIZE": 3,
        "ZYTE_API_SESSION_STATS_PER_POOL": True,
        "CONCURRENT_REQUESTS": 8,
        "RETRY_TIMES": 5,
    }
