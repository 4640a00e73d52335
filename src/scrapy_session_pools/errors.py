"""Exceptions, the close reason each one maps to, and closing the spider on them.

The exception tree::

    SessionPoolsError
    ├── InvalidSettings (ValueError)
    ├── PoolError (ValueError)
    ├── TooManyBadSessionInits (RuntimeError)
    └── SessionWaitTimeout (RuntimeError)
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from scrapy.exceptions import CloseSpider

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

#: Base of the documentation URL that error messages link to.
DOCS_URL = "https://scrapy-session-pools.readthedocs.io/en/latest/"


def troubleshooting_link(slug: str) -> str:
    """Return the URL of the troubleshooting entry *slug*."""
    return f"{DOCS_URL}usage/troubleshooting.html#{slug}"


class SessionPoolsError(Exception):
    """Base class of every exception raised by scrapy-session-pools."""


class InvalidSettings(SessionPoolsError, ValueError):
    """Raised at start-up when one or more settings have a wrong value."""

    def __init__(self, problems: list[str]) -> None:
        #: One line per bad setting, ``NAME: expected <form>, got <value>``.
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(
            f"scrapy-session-pools found {len(self.problems)} invalid "
            f"setting(s):\n{lines}"
        )


class PoolError(SessionPoolsError, ValueError):
    """Raised when the session pool of a request cannot be determined."""


class TooManyBadSessionInits(SessionPoolsError, RuntimeError):
    """Raised when a pool reaches its maximum of consecutive failed inits."""


class SessionWaitTimeout(SessionPoolsError, RuntimeError):
    """Raised when a request waited too long for a session of its pool."""

    @classmethod
    def of(cls, request: object, pool_id: str, max_wait: float) -> SessionWaitTimeout:
        """The error of *request*, which waited *max_wait* s in *pool_id*."""
        return cls(
            f"Request {request} waited {max_wait:g} s for a session "
            f"of pool {pool_id!r} without getting one. Increase "
            f"ZYTE_API_SESSION_QUEUE_MAX_ATTEMPTS or "
            f"ZYTE_API_SESSION_QUEUE_WAIT_TIME, or make the pool larger. "
            f"See {troubleshooting_link('wait-timeout')}"
        )


#: Close reason of the spider for each fatal exception type.
CLOSE_REASONS: dict[type[Exception], str] = {
    TooManyBadSessionInits: "bad_session_inits",
    PoolError: "pool_error",
}


def close_reason_for(exception: BaseException) -> str | None:
    """Return the close reason for *exception*, or ``None`` if it is not fatal."""
    if isinstance(exception, CloseSpider):
        return exception.reason
    for exception_type, reason in CLOSE_REASONS.items():
        if isinstance(exception, exception_type):
            return reason
    return None


def _log_close_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("Could not close the spider", exc_info=task.exception())


class SpiderCloser:
    """Closes the spider once, on the first fatal exception it sees.

    *on_close* is called synchronously with the reason before the engine is
    asked to close, so that pools stop all work at once and release the
    requests that wait for a session.
    """

    def __init__(self, crawler: Crawler, on_close: Callable[[str], None]) -> None:
        self._crawler = crawler
        self._on_close = on_close
        #: The close reason requested by this object, if any.
        self.reason: str | None = None
        self._close_task: asyncio.Future[None] | None = None

    @property
    def is_closing(self) -> bool:
        """Whether a close has been requested."""
        return self.reason is not None

    def close(self, reason: str) -> None:
        """Request the spider to close with *reason* (only the first call acts)."""
        if self.reason is not None:
            return
        self.reason = reason
        logger.info(
            "Closing the spider: %s",
            reason,
            extra={"spider": self._crawler.spider},
        )
        self._on_close(reason)
        engine = self._crawler.engine
        if engine is not None and engine.spider is not None:
            self._close_task = asyncio.ensure_future(
                engine.close_spider_async(reason=reason)
            )
            self._close_task.add_done_callback(_log_close_failure)

    @asynccontextmanager
    async def closing_on_fatal_error(self) -> AsyncIterator[None]:
        """Close the spider if the wrapped code raises a fatal exception.

        The exception is re-raised so that the request that triggered it
        fails; :class:`~scrapy.exceptions.CloseSpider` raised by user code
        closes the spider with its own reason.
        """
        try:
            yield
        except Exception as exception:
            reason = close_reason_for(exception)
            if reason is not None:
                self.close(reason)
            raise
