"""Session initialization: running init_session with a download callable."""

from __future__ import annotations

import enum
import logging
from typing import TYPE_CHECKING

from scrapy.exceptions import CloseSpider, IgnoreRequest
from scrapy.http.request import NO_CALLBACK

from . import meta, stats
from .backends import InitFailure
from .hooks import InitProgress, InitStep, call_hook, current_init, log_hook_error

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from .backends.zyte_api import ZyteAPIBackend
    from .config import SessionConfig
    from .session import Session
    from .settings import PoolsSettings
    from .stats import SessionStats

logger = logging.getLogger(__name__)


class InitOutcome(enum.Enum):
    """The result of one session initialization."""

    #: The session is ready to use.
    OK = "ok"
    #: The session is bad; this counts as a bad init of the pool.
    FAILED = "failed"
    #: The server could not create a session now; try again after a delay.
    RETRY_LATER = "retry-later"


_RETRY_LATER_STATS = {
    InitFailure.OVER_LIMIT: stats.INIT_OVER_LIMIT,
    InitFailure.SERVER_ERROR: stats.INIT_SERVER_ERROR,
}


class SessionInitializer:
    """Runs :meth:`SessionConfig.init_session` and judges its outcome.

    *is_closing* tells whether the crawl is stopping, in which case no init
    request is sent any more.
    """

    def __init__(
        self,
        crawler: Crawler,
        settings: PoolsSettings,
        session_stats: SessionStats,
        backend: ZyteAPIBackend,
        is_closing: Callable[[], bool],
    ) -> None:
        self._crawler = crawler
        self._settings = settings
        self._stats = session_stats
        self._backend = backend
        self._is_closing = is_closing

    async def run(
        self,
        session: Session,
        config: SessionConfig,
        request: Request,
        *,
        cookie_mode: bool,
    ) -> InitOutcome:
        """Initialize *session* for the triggering *request*."""
        responses: list[Response] = []
        download = self._downloader(session, responses, cookie_mode=cookie_mode)
        progress = InitProgress()
        token = current_init.set(progress)
        try:
            is_good = await call_hook(
                config, "init_session", session.id, request, download
            )
        except CloseSpider:
            raise
        except IgnoreRequest:
            if self._is_closing():
                raise
            return self._failed(session, request, stats.INIT_FAILED, "request ignored")
        except Exception as exception:  # noqa: BLE001
            return self._judge_exception(exception, progress, session, config, request)
        finally:
            current_init.reset(token)
        if not is_good:
            return self._failed(
                session, request, stats.INIT_CHECK_FAILED, "the init check failed"
            )
        self._stats.increment(stats.INIT_CHECK_PASSED, session.pool_id)
        if cookie_mode and responses:
            self._backend.replace_cookies(session, responses[-1])
        logger.debug(
            "Created session %s in pool %s",
            session.id,
            session.pool_id,
            extra={"spider": self._crawler.spider, "pool": session.pool_id},
        )
        return InitOutcome.OK

    def _judge_exception(
        self,
        exception: Exception,
        progress: InitProgress,
        session: Session,
        config: SessionConfig,
        request: Request,
    ) -> InitOutcome:
        retry_later = self._backend.classify_init(exception)
        if retry_later is not None:
            self._stats.increment(_RETRY_LATER_STATS[retry_later], session.pool_id)
            logger.warning(
                "Could not create a session for pool %s (%s); trying again in "
                "%g s (ZYTE_API_SESSION_CREATION_RETRY_DELAY).",
                session.pool_id,
                retry_later.value,
                self._settings.creation_retry_delay,
                extra={"spider": self._crawler.spider, "pool": session.pool_id},
            )
            return InitOutcome.RETRY_LATER
        if progress.step is InitStep.PARAMS:
            log_hook_error(self._crawler, config, "params", request, exception)
            self._stats.increment(stats.INIT_PARAM_ERROR, session.pool_id)
            return InitOutcome.FAILED
        if progress.step is InitStep.CHECK:
            log_hook_error(self._crawler, config, "check", request, exception)
            self._stats.increment(stats.INIT_CHECK_ERROR, session.pool_id)
            return InitOutcome.FAILED
        if progress.step is None:
            # Raised by a custom init_session() before or outside the default
            # steps: a bug in user code, logged with its traceback.
            log_hook_error(self._crawler, config, "init_session", request, exception)
        return self._failed(session, request, stats.INIT_FAILED, repr(exception))

    def _failed(
        self, session: Session, request: Request, stat: str, reason: str
    ) -> InitOutcome:
        self._stats.increment(stat, session.pool_id)
        logger.warning(
            "Session initialization for pool %s (triggered by %s) failed: %s",
            session.pool_id,
            request,
            reason,
            extra={"spider": self._crawler.spider, "pool": session.pool_id},
        )
        return InitOutcome.FAILED

    def _downloader(
        self, session: Session, responses: list[Response], *, cookie_mode: bool
    ) -> Callable[[Request], Awaitable[Response]]:
        async def download(request: Request) -> Response:
            progress = current_init.get()
            step_before, progress.step = progress.step, InitStep.DOWNLOAD
            if self._is_closing():
                raise IgnoreRequest("The spider is closing")
            prepared = self._prepare(session, request, cookie_mode=cookie_mode)
            assert self._crawler.engine is not None
            response = await self._crawler.engine.download_async(prepared)
            responses.append(response)
            progress.step = step_before
            return response

        return download

    def _prepare(
        self, session: Session, request: Request, *, cookie_mode: bool
    ) -> Request:
        init_meta = dict(request.meta)
        init_meta[meta.SESSION_INIT_META_KEY] = True
        init_meta.setdefault(meta.DONT_MERGE_COOKIES, True)
        init_meta.setdefault(meta.RETRY_POLICY, self._settings.retry_policy)
        if cookie_mode:
            init_meta.setdefault(meta.COOKIE_SESSION_ID_META_KEY, session.id)
        else:
            current = init_meta.get("zyte_api")
            params = dict(current) if isinstance(current, dict) else {}
            if "session" not in params:
                params["session"] = {"id": session.id}
            elif params["session"] is None:
                del params["session"]
            init_meta["zyte_api"] = params
        callback = request.callback if request.callback is not None else NO_CALLBACK
        return request.replace(meta=init_meta, callback=callback)
