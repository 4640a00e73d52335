"""Downloader middlewares: Scrapy hooks adapted to the SessionManager."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request
from scrapy.exceptions import IgnoreRequest

from . import meta
from .backends import Outcome
from .integrations.fingerprint import attach_pool_lookup
from .manager import SessionManager
from .parking import Parked
from .settings import PoolsSettings

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from typing_extensions import Self

logger = logging.getLogger(__name__)

_RETRY_REASONS = {
    Outcome.EXPIRED: "session_expired",
    Outcome.ERROR: "download_error",
}


class SessionPoolsMiddleware:
    """Downloader middleware that gives requests a session from a pool.

    It assigns sessions in ``process_request``, checks responses in
    ``process_response`` and handles session errors in
    ``process_exception``, retrying requests whose session failed with
    another session. The :class:`~scrapy_session_pools.Addon` enables it at
    priority 667.
    """

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Read and validate the settings, and build the middleware."""
        settings = PoolsSettings.for_crawler(crawler)
        middleware = cls(crawler, SessionManager(crawler, settings))
        crawler.signals.connect(middleware._spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(
            middleware._engine_started, signal=signals.engine_started
        )
        crawler.signals.connect(
            middleware._request_dropped, signal=signals.request_dropped
        )
        crawler.signals.connect(
            middleware._request_scheduled, signal=signals.request_scheduled
        )
        crawler.signals.connect(middleware._spider_idle, signal=signals.spider_idle)
        attach_pool_lookup(crawler, middleware)
        return middleware

    def __init__(self, crawler: Crawler, manager: SessionManager) -> None:
        self._crawler = crawler
        #: The :class:`~scrapy_session_pools.manager.SessionManager` of the crawl.
        self.manager = manager
        #: Scrapy's retry middleware, if enabled (known once the engine starts).
        self._scrapy_retry: RetryMiddleware | None = None
        self._retry_priority_adjust = crawler.settings.getint("RETRY_PRIORITY_ADJUST")

    def get_pool(self, request: Request) -> str | None:
        """Return the pool ID of *request*, or ``None`` if it has no session."""
        return self.manager.get_pool(request)

    async def process_request(self, request: Request) -> Request | None:
        """Assign a session to *request*.

        A request that would wait long for its session is returned: it
        leaves the downloader and comes back when its session is ready (see
        :ref:`parking`).
        """
        try:
            return await self.manager.assign(request)
        except Parked:
            return request

    async def process_response(
        self, request: Request, response: Response
    ) -> Request | Response:
        """Check *response*; retry *request* with a new session if it fails."""
        reason = await self.manager.check(response, request)
        if reason is None:
            return response
        retry = self._retry(request, reason)
        if retry is None:
            raise IgnoreRequest(
                f"{request} failed its session check and has no retries left"
            )
        return retry

    async def process_exception(
        self, request: Request, exception: Exception
    ) -> Request | None:
        """Retry *request* with a new session if *exception* is a session error."""
        outcome = self.manager.report_exception(request, exception)
        if outcome is None or self._is_retried_by_scrapy(request, exception):
            return None
        return self._retry(request, _RETRY_REASONS[outcome])

    def _is_retried_by_scrapy(self, request: Request, exception: Exception) -> bool:
        """Whether Scrapy's retry middleware retries *request* after us.

        It does for :setting:`RETRY_EXCEPTIONS` (e.g. the connection errors of
        HTTP sessions): retried there, the request is retried, counted and
        given up on once, not twice.
        """
        retry = self._scrapy_retry
        return (
            retry is not None
            and isinstance(exception, retry.exceptions_to_retry)
            and not request.meta.get("dont_retry", False)
        )

    def _retry(self, request: Request, reason: str) -> Request | None:
        request.meta.pop(meta.ASSIGNED_META_KEY, None)
        assert self._crawler.spider is not None
        if self.manager.free_retry(request):
            # Its session died of an earlier answer, which counted the retry.
            retry = request.copy()
            retry.meta[meta.FREE_RETRIES_META_KEY] = (
                request.meta.get(meta.FREE_RETRIES_META_KEY, 0) + 1
            )
            retry.dont_filter = True
            retry.priority = request.priority + self._retry_priority_adjust
            logger.debug(
                "Retrying %s (%s) on another session, not counted: its session "
                "had retired before its answer came back",
                request,
                reason,
                extra={"spider": self._crawler.spider},
            )
            return retry
        return get_retry_request(request, spider=self._crawler.spider, reason=reason)

    async def _engine_started(self) -> None:
        assert self._crawler.engine is not None
        self._scrapy_retry = next(
            (
                component
                for component in self._crawler.engine.downloader.middleware.middlewares
                if isinstance(component, RetryMiddleware)
            ),
            None,
        )
        self.manager.start()

    async def _spider_closed(self, reason: str) -> None:
        self.manager.close(reason)

    def _request_dropped(self, request: Request) -> None:
        self.manager.release_dropped(request)

    def _request_scheduled(self, request: Request) -> None:
        self.manager.parking.on_scheduled(request)  # may drop it: parked
        self.manager.pending_requests.schedule(request)

    def _spider_idle(self) -> None:
        self.manager.parking.on_idle()


class SessionPoolsResetterMiddleware:
    """Lets retries get a new session while redirects keep theirs.

    Placed between Scrapy's retry (550) and redirect (600) middlewares, at
    565: requests created after it (retries) lose the mark that their session
    was assigned, requests created before it (redirects, meta refreshes)
    keep it, and so keep their session.
    """

    async def process_response(self, request: Request, response: Response) -> Response:
        """Forget that *request* got a session."""
        request.meta.pop(meta.ASSIGNED_META_KEY, None)
        return response

    async def process_exception(self, request: Request, exception: Exception) -> None:
        """Forget that *request* got a session."""
        request.meta.pop(meta.ASSIGNED_META_KEY, None)
