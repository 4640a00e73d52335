"""Session creation: init_session with a download callable, retried as needed."""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from uuid import uuid4

from scrapy.exceptions import CloseSpider, IgnoreRequest
from scrapy.http.request import NO_CALLBACK

from . import meta, stats
from .backends import InitFailure, Outcome
from .context import UsesContext
from .errors import TooManyBadSessionInits, troubleshooting_link
from .hooks import HookError, run_hook
from .session import Session

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from scrapy import Request
    from scrapy.http import Response

    from .backends import SessionBackend
    from .config import SessionConfig
    from .context import SessionContext
    from .errors import SpiderCloser
    from .pool import Pool

logger = logging.getLogger(__name__)


class InitOutcome(enum.Enum):
    """The result of one session initialization."""

    #: The session is ready to use.
    OK = "ok"
    #: The session is bad; this counts as a bad init of the pool.
    FAILED = "failed"
    #: The server could not create a session now; try again after a delay.
    RETRY_LATER = "retry-later"
    #: The server asks to slow down; the pool's inits pause (Retry-After).
    RATE_LIMITED = "rate-limited"


_RETRY_LATER_STATS = {
    InitFailure.OVER_LIMIT: stats.INIT_OVER_LIMIT,
    InitFailure.SERVER_ERROR: stats.INIT_SERVER_ERROR,
}


#: The stat of an init whose hook failed, by hook (others: init/failed).
_HOOK_ERROR_STATS = {
    "params": stats.INIT_PARAM_ERROR,
    "check": stats.INIT_CHECK_ERROR,
}


@dataclass(slots=True, eq=False)
class _InitAttempt:
    """What the requests of one session initialization got."""

    responses: list[Response] = field(default_factory=list)
    download_errors: list[BaseException] = field(default_factory=list)
    #: The pause that a rate-limited response asked for, if any.
    pause: float | None = None

    def is_download_error(self, exception: BaseException) -> bool:
        """Whether *exception* is a failed download, not a bug of user code."""
        return any(exception is error for error in self.download_errors)


class SessionInitializer(UsesContext):
    """Creates the sessions of pools with :meth:`SessionConfig.init_session`.

    *closer* tells whether the crawl is stopping (then no init request is
    sent any more) and closes it when a pool has too many failed
    initializations in a row.
    """

    def __init__(self, context: SessionContext, closer: SpiderCloser) -> None:
        self._context = context
        self._closer = closer
        self._closed = asyncio.Event()
        #: Sessions being initialized, with their backends, by session ID
        #: (their init requests need them).
        self._initializing: dict[str, tuple[Session, SessionBackend]] = {}
        #: New sessions with a profile, until their init ends, by session ID.
        self._creating: dict[str, Session] = {}
        #: The pause that a rate-limited init asked for, by session ID.
        self._pauses: dict[str, float] = {}

    def close(self) -> None:
        """Stop waiting: no more retries after a delay."""
        self._closed.set()

    def observe(self, response: Response, request: Request) -> None:
        """Let the backend see the *response* to the init request *request*.

        A rate-limited one is not retried by Scrapy's retry middleware: the
        inits of its pool pause instead (see :meth:`create`).
        """
        initialization = self.initialization_of(request)
        if initialization is None:
            return
        session, backend = initialization
        backend.observe(session, response, request)
        verdict = backend.judge(response)
        if verdict is not None and verdict.outcome is Outcome.RATE_LIMITED:
            request.meta["dont_retry"] = True

    def initialization_of(
        self, request: Request
    ) -> tuple[Session, SessionBackend] | None:
        """Return the session that the init request *request* initializes."""
        for backend in self._backends:
            session_id = backend.session_id(request)
            if session_id is not None and session_id in self._initializing:
                return self._initializing[session_id]
        return None

    async def create(
        self, pool: Pool, config: SessionConfig, request: Request, *, cookie_mode: bool
    ) -> Session:
        """Create a session of *pool* for *request*, trying until one is good.

        Raises :exc:`~scrapy_session_pools.TooManyBadSessionInits` (closing
        the spider) after too many failed initializations in a row.
        """
        async with self._closer.closing_on_fatal_error():
            while True:
                await self._sleep(pool.counts.inits_paused_until - time.monotonic())
                if self._closer.is_closing:
                    raise IgnoreRequest("The spider is closing")
                session = await self._new_session(pool)
                try:
                    outcome = await self.run(
                        session,
                        self._backends[pool.kind],
                        config,
                        request,
                        cookie_mode=cookie_mode,
                    )
                finally:
                    self._creating.pop(session.id, None)
                if outcome is InitOutcome.OK:
                    pool.counts.bad_inits = 0
                    return session
                if outcome is InitOutcome.RETRY_LATER:
                    await self._sleep(self._settings.creation_retry_delay)
                    continue
                if outcome is InitOutcome.RATE_LIMITED:
                    # Every init of the pool waits (at the top of the loop);
                    # the new session's age starts after the pause.
                    until = time.monotonic() + self._pauses.pop(session.id, 0.0)
                    counts = pool.counts
                    counts.inits_paused_until = max(counts.inits_paused_until, until)
                    continue
                if session.profile is not None:  # e.g. a refusing proxy
                    pool.profiles.record_ban(session.profile, time.time())
                self._count_bad_init(pool)

    async def _new_session(self, pool: Pool) -> Session:
        session = Session(id=str(uuid4()), pool_id=pool.id, created_at=time.monotonic())
        if pool.profiles:
            creating = (s for s in self._creating.values() if s.pool_id == pool.id)
            in_use = Counter(
                s.profile.name for s in (*pool, *creating) if s.profile is not None
            )
            profile, available_at = pool.profiles.take(time.time(), in_use)
            session.profile = profile
            self._creating[session.id] = session
            await self._sleep(available_at - time.time())
        self._backends[pool.kind].start(session)
        return session

    def _count_bad_init(self, pool: Pool) -> None:
        pool.counts.bad_inits += 1
        maximum = self._settings.max_bad_inits_for(pool.id)
        if pool.counts.bad_inits >= maximum:
            logger.error(
                "Pool %s had %d session initializations in a row fail; stopping "
                "the crawl. Check the init parameters and checks of this pool, "
                "or raise ZYTE_API_SESSION_MAX_BAD_INITS. See %s",
                pool.id,
                pool.counts.bad_inits,
                troubleshooting_link("bad-session-inits"),
                extra={"spider": self._crawler.spider, "pool": pool.id},
            )
            error = TooManyBadSessionInits(
                f"{pool.counts.bad_inits} consecutive session initializations failed in "
                f"pool {pool.id!r}"
            )
            pool.close(error)  # its waiting requests fail for the same reason
            raise error

    async def _sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        try:
            await asyncio.wait_for(self._closed.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            return

    async def run(
        self,
        session: Session,
        backend: SessionBackend,
        config: SessionConfig,
        request: Request,
        *,
        cookie_mode: bool,
    ) -> InitOutcome:
        """Initialize *session*, of the kind of *backend*, for *request*."""
        attempt = _InitAttempt()
        download = self._downloader(session, backend, attempt, cookie_mode=cookie_mode)
        self._initializing[session.id] = (session, backend)
        try:
            is_good = await run_hook(
                self._crawler,
                config,
                "init_session",
                session.id,
                request,
                download,
                request=request,
                is_expected=attempt.is_download_error,
            )
        except CloseSpider:
            raise
        except IgnoreRequest:
            if self._closer.is_closing:
                raise
            return self._failed(session, request, stats.INIT_FAILED, "request ignored")
        except HookError as error:
            stat = _HOOK_ERROR_STATS.get(error.hook, stats.INIT_FAILED)
            return self._failed(
                session, request, stat, f"{error.hook}() failed: {error.__cause__!r}"
            )
        except Exception as exception:  # noqa: BLE001  # a failed download
            return self._judge_download_error(exception, backend, session, request)
        finally:
            self._initializing.pop(session.id, None)
        if not is_good and attempt.pause is not None:
            return self._pause(session, attempt.pause)
        if not is_good:
            return self._failed(
                session, request, stats.INIT_CHECK_FAILED, "the init check failed"
            )
        self._stats.increment(stats.INIT_CHECK_PASSED, session.pool_id)
        backend.finish_init(session, attempt.responses, cookie_mode=cookie_mode)
        logger.debug(
            "Created session %s in pool %s",
            session.id,
            session.pool_id,
            extra={"spider": self._crawler.spider, "pool": session.pool_id},
        )
        return InitOutcome.OK

    def _judge_download_error(
        self,
        exception: Exception,
        backend: SessionBackend,
        session: Session,
        request: Request,
    ) -> InitOutcome:
        retry_later = backend.classify_init(exception)
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
        return self._failed(session, request, stats.INIT_FAILED, repr(exception))

    def _pause(self, session: Session, pause: float) -> InitOutcome:
        """Pause the inits of the pool of *session*, rate-limited, for *pause* s."""
        self._pauses[session.id] = pause
        self._stats.increment(stats.INIT_RATE_LIMITED, session.pool_id)
        logger.warning(
            "A session initialization of pool %s was rate-limited; the "
            "initializations of this pool pause for %g s (Retry-After).",
            session.pool_id,
            pause,
            extra={"spider": self._crawler.spider, "pool": session.pool_id},
        )
        return InitOutcome.RATE_LIMITED

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
        self,
        session: Session,
        backend: SessionBackend,
        attempt: _InitAttempt,
        *,
        cookie_mode: bool,
    ) -> Callable[[Request], Awaitable[Response]]:
        async def download(request: Request) -> Response:
            if self._closer.is_closing:
                raise IgnoreRequest("The spider is closing")
            prepared = backend.prepare_init(
                session, _as_init_request(request), cookie_mode=cookie_mode
            )
            assert self._crawler.engine is not None
            try:
                response = await self._crawler.engine.download_async(prepared)
            except Exception as exception:
                attempt.download_errors.append(exception)
                raise
            attempt.responses.append(response)
            verdict = backend.judge(response)
            if verdict is not None and verdict.outcome is Outcome.RATE_LIMITED:
                attempt.pause = verdict.pause
            return response

        return download


def _as_init_request(request: Request) -> Request:
    """Mark *request* as a session initialization request."""
    init_meta = dict(request.meta)
    init_meta[meta.SESSION_INIT_META_KEY] = True
    init_meta.setdefault(meta.DONT_MERGE_COOKIES, True)
    callback = request.callback if request.callback is not None else NO_CALLBACK
    return request.replace(meta=init_meta, callback=callback)
