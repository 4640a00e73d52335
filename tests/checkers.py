"""Session checker components used by the tests (loaded by import path)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.exceptions import CloseSpider

from scrapy_session_pools import is_session_init_request

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response


class FailUsesAfterFirstChecker:
    """Passes init responses; fails use responses whose session has 3+ uses."""

    def check(self, response: Response, request: Request) -> bool:
        if is_session_init_request(request):
            return True
        uses = int(response.css("#uses::text").get() or 0)
        return uses < 3


class RaisingOnceChecker:
    """Raises on the first use response it sees."""

    def __init__(self) -> None:
        self.has_raised = False

    def check(self, response: Response, request: Request) -> bool:
        if is_session_init_request(request) or self.has_raised:
            return True
        self.has_raised = True
        raise ValueError("checker bug")


class ClosingChecker:
    """Stops the crawl with a custom reason."""

    def check(self, response: Response, request: Request) -> bool:
        raise CloseSpider("custom_reason")


class CrawlerAwareChecker:
    """Built with from_crawler; fails init responses if a setting says so."""

    def __init__(self, reject_inits: bool) -> None:
        self.reject_inits = reject_inits

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlerAwareChecker:
        return cls(crawler.settings.getbool("TEST_REJECT_INITS"))

    def check(self, response: Response, request: Request) -> bool:
        return not (self.reject_inits and is_session_init_request(request))


class RaisingOnInitChecker:
    """Raises on init responses."""

    def check(self, response: Response, request: Request) -> bool:
        if is_session_init_request(request):
            raise RuntimeError("init checker bug")
        return True
