"""Helpers to run real crawls against the test servers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy import Request, Spider
from scrapy.utils.test import get_crawler

from scrapy_session_pools.meta import find_session_id
from scrapy_session_pools.stats import PREFIX

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from scrapy_session_pools.testing import FakeZyteAPI

#: Second guard against hanging crawls, below the pytest timeout.
CLOSESPIDER_TIMEOUT = 45


def zyte_api_settings(server: FakeZyteAPI, **settings: Any) -> dict[str, Any]:
    """Settings of a crawl through scrapy-zyte-api to the fake Zyte API."""
    return {
        "ADDONS": {"scrapy_zyte_api.Addon": 500, "scrapy_session_pools.Addon": 510},
        "ZYTE_API_KEY": "test-key",
        "ZYTE_API_URL": server.api_url,
        "ZYTE_API_SESSION_ENABLED": True,
        "CLOSESPIDER_TIMEOUT": CLOSESPIDER_TIMEOUT,
        "LOG_LEVEL": "DEBUG",
        **settings,
    }


def http_settings(**settings: Any) -> dict[str, Any]:
    """Settings of a plain-HTTP crawl with session pools (no Zyte API)."""
    return {
        "ADDONS": {"scrapy_session_pools.Addon": 500},
        "ZYTE_API_SESSION_ENABLED": True,
        "CLOSESPIDER_TIMEOUT": CLOSESPIDER_TIMEOUT,
        "LOG_LEVEL": "DEBUG",
        "USER_AGENT": "test-agent",
        **settings,
    }


class RecordingSpider(Spider):
    """A spider that records the responses it gets and the errors it sees."""

    name = "recording"
    start_requests_list: list[Request] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.responses: list[Response] = []
        self.failures: list[Any] = []

    async def start(self) -> AsyncIterator[Any]:
        for request in self.start_requests_list:
            yield request.replace(callback=self.parse, errback=self.errback)

    def parse(self, response: Response) -> None:
        self.responses.append(response)

    def errback(self, failure: Any) -> None:
        self.failures.append(failure)


def spider_for(
    url: str, requests: int = 1, meta: dict[str, Any] | None = None
) -> type[RecordingSpider]:
    """Return a spider class that requests *url* *requests* times."""
    separator = "&" if "?" in url else "?"
    return spider_with(
        [
            Request(f"{url}{separator}page={i}", meta=dict(meta or {}))
            for i in range(requests)
        ]
    )


def spider_with(requests: list[Request]) -> type[RecordingSpider]:
    """Return a spider class that sends *requests*."""
    return type(
        "TestSpider", (RecordingSpider,), {"start_requests_list": list(requests)}
    )


async def run_crawl(
    settings: dict[str, Any], spider_cls: type[Spider] = RecordingSpider
) -> Crawler:
    """Run a crawl of *spider_cls* with *settings* and return its crawler."""
    # Newer Scrapy's get_crawler() turns the telnet console off; older ones
    # (2.14) leave it on, and a port taken by another xdist worker then leaks
    # a socket in Twisted ≤ 25.5 (a ResourceWarning, an error here).
    crawler = get_crawler(spider_cls, {"TELNETCONSOLE_ENABLED": False, **settings})
    await crawler.crawl_async()
    return crawler


def session_stats(crawler: Crawler) -> dict[str, Any]:
    """Return the counters under the ``sessions/`` prefix, prefix removed.

    Gauges (``sessions/gauges/…``) are left out: tests of gauges use
    :func:`gauges`. So is ``use/parked``, which depends on timing (how long
    requests wait): tests of parking use :func:`parked`.
    """
    assert crawler.stats is not None
    return {
        key[len(PREFIX) :]: value
        for key, value in crawler.stats.get_stats().items()
        if key.startswith(PREFIX)
        and not key.startswith(f"{PREFIX}gauges/")
        and not key.endswith("/parked")
    }


def parked(crawler: Crawler) -> int:
    """Return how many requests waited for their session outside the downloader."""
    assert crawler.stats is not None
    return int(crawler.stats.get_value(f"{PREFIX}use/parked", 0))


def gauges(crawler: Crawler) -> dict[str, Any]:
    """Return the gauges set at close, ``sessions/gauges/`` removed."""
    assert crawler.stats is not None
    prefix = f"{PREFIX}gauges/"
    return {
        key[len(prefix) :]: value
        for key, value in crawler.stats.get_stats().items()
        if key.startswith(prefix)
    }


def session_id_of(response: Response) -> str | None:
    """Return the session ID that the request of *response* was sent with."""
    assert response.request is not None
    return find_session_id(response.request)


def spider_of(crawler: Crawler) -> RecordingSpider:
    """Return the recording spider of *crawler*."""
    assert isinstance(crawler.spider, RecordingSpider)
    return crawler.spider
