"""The spider of every bench crawl: sends the planned requests and counts answers."""

from __future__ import annotations

import resource
import time
from collections import Counter
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.python.failure import Failure
    from typing_extensions import Self


def cpu_seconds() -> float:
    """Return the user + system CPU seconds used by this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _domain(url: str) -> str:
    return urlsplit(url).netloc


class BenchSpider(Spider):
    """Sends *planned* requests (URL and meta pairs) and counts the outcomes.

    With *landing_url*, that URL is requested first and the planned requests
    are sent from its callback, so that Scrapy's cookie jar holds the session
    cookie of the website before any page is requested (plain Scrapy, no
    session pools).

    The crawl is timed from ``spider_opened`` to ``spider_closed``, in wall
    and CPU seconds. With *by_domain*, the outcomes are also counted per
    domain of the request URL, with the time of each success (see
    :meth:`domain_figures`).
    """

    name = "bench"

    def __init__(
        self,
        planned: list[tuple[str, dict[str, Any]]],
        landing_url: str | None = None,
        by_domain: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.planned = planned
        self.landing_url = landing_url
        self.by_domain = by_domain
        self.successes = 0
        self.failures: Counter[str] = Counter()
        #: With *by_domain*: seconds from ``spider_opened`` to each success.
        self.success_times: dict[str, list[float]] = {}
        self.domain_failures: Counter[str] = Counter()
        self.opened_at = self.closed_at = 0.0
        self.cpu_opened = self.cpu_closed = 0.0

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._opened, signal=signals.spider_opened)
        crawler.signals.connect(spider._closed, signal=signals.spider_closed)
        return spider

    def _opened(self) -> None:
        self.opened_at = time.perf_counter()
        self.cpu_opened = cpu_seconds()

    def _closed(self) -> None:
        self.closed_at = time.perf_counter()
        self.cpu_closed = cpu_seconds()

    async def start(self) -> AsyncIterator[Request]:
        if self.landing_url is not None:
            yield Request(
                self.landing_url,
                callback=self._landed,
                errback=self._failed,
                dont_filter=True,
            )
            return
        for request in self._requests():
            yield request

    def _requests(self) -> Iterator[Request]:
        for url, meta in self.planned:
            yield Request(url, meta=meta, callback=self.parse, errback=self._failed)

    def _landed(self, response: Response) -> Iterator[Request]:
        yield from self._requests()

    def parse(self, response: Response) -> None:
        self.successes += 1
        if self.by_domain:
            url = response.request.url if response.request else response.url
            elapsed = time.perf_counter() - self.opened_at
            self.success_times.setdefault(_domain(url), []).append(elapsed)

    def _failed(self, failure: Failure) -> None:
        self.failures[type(failure.value).__name__] += 1
        request = getattr(failure, "request", None)
        if self.by_domain and isinstance(request, Request):
            self.domain_failures[_domain(request.url)] += 1

    def domain_figures(self) -> dict[str, dict[str, Any]]:
        """Return, per domain of the planned requests, what became of them.

        ``planned``, ``ok`` (reached the callback) and ``failed`` (reached
        the errback) are request counts; ``last`` is the time of the last
        success in seconds since ``spider_opened``, or ``None``.
        """
        planned = Counter(_domain(url) for url, _ in self.planned)
        figures = {}
        for domain, count in sorted(planned.items()):
            times = self.success_times.get(domain, [])
            figures[domain] = {
                "planned": count,
                "ok": len(times),
                "failed": self.domain_failures[domain],
                "last": max(times, default=None),
            }
        return figures
