"""SessionManager: from a request to its config, pool and session, and back."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from scrapy.exceptions import CloseSpider, IgnoreRequest
from scrapy.utils.misc import build_from_crawler

from . import meta, stats
from .backends import Outcome
from .backends.zyte_api import ZyteAPIBackend
from .errors import (
    PoolError,
    SpiderCloser,
    TooManyBadSessionInits,
    troubleshooting_link,
)
from .hooks import call_hook, log_hook_error
from .init_requests import InitOutcome, SessionInitializer
from .pool import Pool, PoolOptions
from .registry import session_config_registry
from .session import RetireReason, Session
from .stats import SessionStats

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from .config import SessionConfig
    from .settings import PoolsSettings

logger = logging.getLogger(__name__)


def _is_dummy_response(response: Response) -> bool:
    try:
        from scrapy_poet.api import DummyResponse  # noqa: PLC0415
    except ImportError:  # pragma: no cover - scrapy-poet is optional
        return False
    return isinstance(response, DummyResponse)


def _sync_result(value: Any) -> Any:
    """Return *value*, or ``None`` if it must be awaited (closing coroutines)."""
    if inspect.isawaitable(value):
        if inspect.iscoroutine(value):
            value.close()
        return None
    return value


#: The request whose response is being processed in the current task.
_served_request: ContextVar[Request | None] = ContextVar(
    "_served_request", default=None
)


def _inherit_session_meta(request: Request) -> None:
    """Give a request sent on behalf of another one the session meta of it.

    scrapy-poet providers (e.g. scrapy-zyte-api's ``ZyteApiProvider``)
    download a new request for the URL of the request they serve, without
    its meta; such a request must use the same kind of session (pool,
    location, init parameters).
    """
    served = _served_request.get()
    if served is None or served is request or served.url != request.url:
        return
    for key in meta.SESSION_META_KEYS:
        if key in served.meta and key not in request.meta:
            request.meta[key] = served.meta[key]


class SessionManager:
    """Assigns sessions to requests and keeps the pools of a crawler healthy.

    For each request it finds the :class:`~scrapy_session_pools.SessionConfig`
    (by URL), the pool (with :meth:`SessionConfig.pool`) and a session of
    that pool; for each response or error it decides whether the session
    stays, and replaces the sessions it retires.
    """

    def __init__(self, crawler: Crawler, settings: PoolsSettings) -> None:
        self._crawler = crawler
        self._settings = settings
        assert crawler.stats is not None
        self._stats = SessionStats(crawler.stats, per_pool=settings.stats_per_pool)
        self._backend = ZyteAPIBackend(transparent_mode=settings.transparent_mode)
        self._closer = SpiderCloser(crawler, self._close_pools)
        self._initializer = SessionInitializer(
            crawler,
            settings,
            self._stats,
            self._backend,
            lambda: self._closer.is_closing,
        )
        self._pools: dict[str, Pool] = {}
        self._bad_inits: dict[str, int] = {}
        self._configs: dict[type[SessionConfig], SessionConfig] = {}
        self._closed = asyncio.Event()

    @property
    def is_closing(self) -> bool:
        """Whether the crawl is stopping, so that no session work starts."""
        return self._closer.is_closing

    @property
    def pools(self) -> Iterator[Pool]:
        """The pools created so far."""
        return iter(list(self._pools.values()))

    def config_for(self, request: Request) -> SessionConfig:
        """Return the session config instance for the URL of *request*."""
        cls = session_config_registry.session_config_cls(request)
        config = self._configs.get(cls)
        if config is None:
            config = self._configs[cls] = build_from_crawler(cls, self._crawler)
        return config

    def get_pool(self, request: Request) -> str | None:
        """Return the pool ID of *request*, or ``None`` if it uses no session.

        Used by request fingerprinting; it creates no pool.
        """
        if meta.is_session_init_request(request):
            return None
        config = self.config_for(request)
        try:
            enabled = _sync_result(config.enabled(request))
            if not enabled or not self._backend.handles(request):
                return None
            value = _sync_result(config.pool(request))
        except Exception:  # noqa: BLE001
            return None
        if value is None:
            return None
        try:
            return self._parse_pool(value, request)[0]
        except PoolError:
            return None

    async def assign(self, request: Request) -> Request | None:
        """Give *request* a session; return a replacement request, if any."""
        if meta.is_session_init_request(request) or request.meta.get(
            meta.ASSIGNED_META_KEY
        ):
            return None
        _inherit_session_meta(request)
        config = self.config_for(request)
        async with self._closer.closing_on_fatal_error():
            if not await self._call(config, "enabled", request):
                self._stats.increment_disabled()
                return None
            if not self._backend.handles(request):
                return None
            if self.is_closing:
                raise IgnoreRequest("The spider is closing")
            pool = await self._pool_for(request, config)
            session = await pool.acquire(request)
            cookie_mode = bool(await self._call(config, "cookie_mode", request))
            self._attach(session, pool, request, cookie_mode=cookie_mode)
            result: Request | None = await self._call(
                config, "process_request", request
            )
        return result

    def _attach(
        self, session: Session, pool: Pool, request: Request, *, cookie_mode: bool
    ) -> None:
        self._backend.apply(session, request, cookie_mode=cookie_mode)
        request.meta.setdefault(meta.DONT_MERGE_COOKIES, True)
        request.meta[meta.ASSIGNED_META_KEY] = True
        request.meta[meta.POOL_META_KEY] = pool.id
        request.meta.setdefault(meta.RETRY_POLICY, self._settings.retry_policy)
        logger.debug(
            "Request %s uses session %s of pool %s",
            request,
            session.id,
            pool.id,
            extra={"spider": self._crawler.spider, "pool": pool.id},
        )

    async def _call(self, config: SessionConfig, name: str, request: Request) -> Any:
        """Call a hook of *config* for *request*, logging what it raises."""
        try:
            return await call_hook(config, name, request)
        except CloseSpider:
            raise
        except Exception as exception:
            log_hook_error(self._crawler, config, name, request, exception)
            raise

    async def check(self, response: Response, request: Request) -> bool:
        """Check *response*; ``False`` means: retry the request, new session."""
        if meta.is_session_init_request(request):
            return True
        # Requests that scrapy-poet providers send while this response is
        # processed further (e.g. by InjectionMiddleware) serve *request*.
        _served_request.set(request)
        if _is_dummy_response(response):
            return True
        found = self._session_of(request)
        if found is None:
            return True
        pool, session = found
        config = self.config_for(request)
        try:
            async with self._closer.closing_on_fatal_error():
                is_good = await call_hook(config, "check", response, request)
        except CloseSpider:
            raise
        except Exception as exception:  # noqa: BLE001
            log_hook_error(self._crawler, config, "check", request, exception)
            self._stats.increment(stats.USE_CHECK_ERROR, pool.id)
            self._retire(pool, session, RetireReason.CHECK_ERROR, request)
            return False
        if is_good:
            self._stats.increment(stats.USE_CHECK_PASSED, pool.id)
            if session is not None and meta.COOKIE_SESSION_ID_META_KEY in request.meta:
                self._backend.update(session, response)
            return True
        self._stats.increment(stats.USE_CHECK_FAILED, pool.id)
        if session is not None and session.record_check_failure(
            self._settings.max_check_failures
        ):
            self._retire(pool, session, RetireReason.CHECK_FAILURES, request)
        return False

    def report_exception(
        self, request: Request, exception: BaseException
    ) -> Outcome | None:
        """Record what *exception* says about the session of *request*."""
        if meta.is_session_init_request(request):
            return None
        found = self._session_of(request)
        if found is None:
            return None
        pool, session = found
        outcome = self._backend.classify(exception)
        if outcome is Outcome.EXPIRED:
            self._stats.increment(stats.USE_EXPIRED, pool.id)
            self._retire(pool, session, RetireReason.EXPIRED, request)
        elif outcome is Outcome.ERROR:
            self._stats.increment(stats.USE_FAILED, pool.id)
            if session is not None and session.record_error(self._settings.max_errors):
                self._retire(pool, session, RetireReason.ERRORS, request)
        return outcome

    def close(self) -> None:
        """Stop all session work (the spider closed)."""
        self._close_pools("finished")

    def _close_pools(self, reason: str) -> None:
        self._closed.set()
        for pool in self._pools.values():
            pool.close()
        logger.debug("Closed %d session pool(s): %s", len(self._pools), reason)

    def _session_of(self, request: Request) -> tuple[Pool, Session | None] | None:
        pool_id = request.meta.get(meta.POOL_META_KEY)
        pool = self._pools.get(pool_id) if isinstance(pool_id, str) else None
        if pool is None:
            return None
        session_id = self._backend.session_id(request)
        return pool, pool.get(session_id) if session_id else None

    def _retire(
        self,
        pool: Pool,
        session: Session | None,
        reason: RetireReason,
        request: Request,
    ) -> None:
        if session is None or not pool.retire(session, reason):
            return
        logger.debug(
            "Retired session %s of pool %s (%s) after %d use(s)",
            session.id,
            pool.id,
            reason.value,
            session.uses,
            extra={"spider": self._crawler.spider, "pool": pool.id},
        )
        if not self.is_closing:
            pool.refill(request)

    async def _pool_for(self, request: Request, config: SessionConfig) -> Pool:
        try:
            value = await call_hook(config, "pool", request)
        except CloseSpider:
            raise
        except Exception as exception:
            log_hook_error(self._crawler, config, "pool", request, exception)
            self._stats.increment_pool_error()
            raise PoolError(
                f"{type(config).__qualname__}.pool() raised {exception!r} for {request}"
            ) from exception
        try:
            pool_id, options = self._parse_pool(value, request)
            pool = self._pools.get(pool_id)
            if pool is None:
                pool = self._create_pool(pool_id, options)
        except PoolError as error:
            self._stats.increment_pool_error()
            logger.error("%s", error, extra={"spider": self._crawler.spider})
            raise
        return pool

    def _parse_pool(
        self, value: Any, request: Request
    ) -> tuple[str, Mapping[str, Any] | None]:
        if isinstance(value, str) and value:
            return value, None
        if isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"]:
            return value["id"], {k: v for k, v in value.items() if k != "id"}
        raise PoolError(
            f"The session pool of {request} must be a non-empty string or a "
            f"dict with an 'id' key, got {value!r}. See "
            f"{troubleshooting_link('pool-error')}"
        )

    def _create_pool(
        self, pool_id: str, options_mapping: Mapping[str, Any] | None
    ) -> Pool:
        options = self._settings.pools.get(pool_id)
        if options is None:
            defaults = self._settings.default_pool_options
            try:
                options = (
                    PoolOptions.from_mapping(options_mapping, defaults)
                    if options_mapping
                    else defaults
                )
            except ValueError as error:
                raise PoolError(
                    f"Bad options for session pool {pool_id!r}: {error}"
                ) from error

        async def create_session(request: Request) -> Session:
            return await self._create_session(pool_id, request)

        pool = Pool(
            pool_id,
            options,
            create_session=create_session,
            jitter=self._settings.jitter,
            max_wait=self._settings.max_wait,
        )
        self._pools[pool_id] = pool
        logger.info(
            "Created session pool %s (size %d, delay %g s)",
            pool_id,
            options.size,
            options.delay,
            extra={"spider": self._crawler.spider, "pool": pool_id},
        )
        return pool

    async def _create_session(self, pool_id: str, request: Request) -> Session:
        config = self.config_for(request)
        cookie_mode = bool(await call_hook(config, "cookie_mode", request))
        async with self._closer.closing_on_fatal_error():
            while True:
                if self.is_closing:
                    raise IgnoreRequest("The spider is closing")
                session = Session(
                    id=str(uuid4()), pool_id=pool_id, created_at=time.monotonic()
                )
                outcome = await self._initializer.run(
                    session, config, request, cookie_mode=cookie_mode
                )
                if outcome is InitOutcome.OK:
                    self._bad_inits[pool_id] = 0
                    return session
                if outcome is InitOutcome.RETRY_LATER:
                    await self._sleep(self._settings.creation_retry_delay)
                    continue
                self._count_bad_init(pool_id)

    def _count_bad_init(self, pool_id: str) -> None:
        count = self._bad_inits[pool_id] = self._bad_inits.get(pool_id, 0) + 1
        maximum = self._settings.max_bad_inits_for(pool_id)
        if count >= maximum:
            logger.error(
                "Pool %s had %d session initializations in a row fail; stopping "
                "the crawl. Check the init parameters and checks of this pool, "
                "or raise ZYTE_API_SESSION_MAX_BAD_INITS. See %s",
                pool_id,
                count,
                troubleshooting_link("bad-session-inits"),
                extra={"spider": self._crawler.spider, "pool": pool_id},
            )
            raise TooManyBadSessionInits(
                f"{count} consecutive session initializations failed in pool "
                f"{pool_id!r}"
            )

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._closed.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            return
