"""SessionJudge: what a response or an error says about the session it used."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from . import meta, stats
from .backends import Outcome
from .context import UsesContext
from .hooks import HookError, run_hook, wrong_result
from .session import RetireReason

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.http import Response

    from .config import SessionConfig
    from .context import SessionContext
    from .errors import SpiderCloser
    from .pool import Pool
    from .session import Session

logger = logging.getLogger(__name__)


class SessionJudge(UsesContext):
    """Applies the verdict of each response and error to its session.

    A response is judged by its backend first (bans, rate limits), then by
    :meth:`SessionConfig.check`; an error by its backend. The judge counts
    the contract's stats and retires, pauses or forgives the session.
    """

    def __init__(self, context: SessionContext, closer: SpiderCloser) -> None:
        self._context = context
        self._closer = closer

    async def judge_response(
        self,
        pool: Pool,
        session: Session | None,
        response: Response,
        request: Request,
        config: SessionConfig,
    ) -> str | None:
        """Judge *response*; return why to retry *request*, or ``None``."""
        backend = self._backends[pool.kind]
        if session is not None:
            backend.observe(session, response, request)
        verdict = backend.judge(response)
        if verdict is not None:
            return self._apply(pool, session, request, verdict.outcome, verdict.pause)
        if await self._check(pool, session, response, request, config):
            return None
        return "session_expired"

    async def _hook(self, config: SessionConfig, hook: str, *args: Any) -> Any:
        return await run_hook(self._crawler, config, hook, *args, request=args[-1])

    async def _check(
        self,
        pool: Pool,
        session: Session | None,
        response: Response,
        request: Request,
        config: SessionConfig,
    ) -> bool:
        try:
            async with self._closer.closing_on_fatal_error():
                is_good = await self._hook(config, "check", response, request)
                if not isinstance(is_good, bool):
                    raise wrong_result(
                        self._crawler,
                        config,
                        "check",
                        request,
                        f"must return True or False, got {is_good!r} "
                        f"({type(is_good).__name__})",
                    )
        except HookError:
            self._stats.increment(stats.USE_CHECK_ERROR, pool.id)
            _retire(pool, session, RetireReason.CHECK_ERROR, request)
            return False
        if is_good:
            pool.counts.checks_passed += 1
            self._stats.increment(stats.USE_CHECK_PASSED, pool.id)
            if session is not None:
                session.record_success(
                    pool.options.error_decay, request.meta.get(meta.SENT_AT, 0.0)
                )
                if session.profile is not None:
                    pool.profiles.record_success(session.profile)
                self._backends[pool.kind].keep(session, response, request)
            elif self._backends[pool.kind].has_cookie_mode and await self._hook(
                config, "cookie_mode", request
            ):
                logger.error(
                    "The cookie session ID is missing from the %r meta key of "
                    "request %s, so the cookies of its response cannot be "
                    "kept in its session.",
                    meta.COOKIE_SESSION_ID_META_KEY,
                    request,
                    extra={"spider": self._crawler.spider, "pool": pool.id},
                )
            return True
        pool.counts.checks_failed += 1
        self._stats.increment(stats.USE_CHECK_FAILED, pool.id)
        if session is not None and session.record_check_failure(
            self._settings.max_check_failures
        ):
            _retire(pool, session, RetireReason.CHECK_FAILURES, request)
        return False

    def _apply(
        self,
        pool: Pool,
        session: Session | None,
        request: Request,
        outcome: Outcome,
        pause: float,
    ) -> str:
        if outcome is Outcome.BLOCKED:
            self._stats.increment(stats.USE_BLOCKED, pool.id)
            if session is not None and session.profile is not None:
                rest = pool.profiles.record_ban(session.profile, time.time())
                logger.debug(
                    "Profile %s of pool %s rests %g s after a ban",
                    session.profile.name,
                    pool.id,
                    rest,
                    extra={"spider": self._crawler.spider, "pool": pool.id},
                )
            _retire(pool, session, RetireReason.BLOCKED, request)
            return "session_blocked"
        self._stats.increment(stats.USE_RATE_LIMITED, pool.id)
        if session is not None:
            session.next_use = max(session.next_use, time.monotonic() + pause)
        return "session_rate_limited"

    def judge_exception(
        self,
        pool: Pool,
        session: Session | None,
        exception: BaseException,
        request: Request,
    ) -> Outcome | None:
        """Record what *exception* says about *session*; return the outcome."""
        outcome = self._backends[pool.kind].classify(exception)
        if outcome is Outcome.EXPIRED:
            self._stats.increment(stats.USE_EXPIRED, pool.id)
            _retire(pool, session, RetireReason.EXPIRED, request)
        elif outcome is Outcome.ERROR:
            self._stats.increment(stats.USE_FAILED, pool.id)
            if session is not None and session.record_error(self._settings.max_errors):
                _retire(pool, session, RetireReason.ERRORS, request)
        return outcome


def _retire(
    pool: Pool, session: Session | None, reason: RetireReason, request: Request
) -> None:
    if session is not None:
        pool.retire(session, reason, request)
