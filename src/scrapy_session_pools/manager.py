"""SessionManager: from a request to its config, pool and session, and back."""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from scrapy import Request
from scrapy.exceptions import IgnoreRequest

from . import meta, stats
from .backends import Backends
from .backends.http import HTTPBackend
from .backends.zyte_api import ZyteAPIBackend
from .config_lookup import ConfigLookup
from .context import SessionContext
from .errors import SpiderCloser
from .handles import SessionHandle
from .hooks import run_hook
from .init_requests import SessionInitializer
from .integrations import scrapy_poet
from .integrations.fingerprint import FingerprintPools
from .leases import Leases
from .lifetimes import PoolLearning
from .maintenance import PoolMaintenance
from .observability import PoolsObserver
from .parking import ParkingLot
from .pinning import acquire_pinned
from .pool_registry import PoolRegistry
from .pool_resolution import PoolResolver
from .session import DEATHS, RetireReason, Session
from .stats import SessionStats
from .verdicts import SessionJudge

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from .backends import Outcome
    from .config import SessionConfig
    from .persistence.stores.file import FileStore
    from .pool import Pool
    from .settings import PoolsSettings

logger = logging.getLogger(__name__)

#: Retries of one request that may go uncounted (see :meth:`SessionManager.free_retry`).
MAX_FREE_RETRIES = 3


class SessionManager:
    """Assigns sessions to requests and keeps the pools of a crawler healthy.

    For each request it finds the :class:`~scrapy_session_pools.SessionConfig`
    (by URL), the pool (with :meth:`SessionConfig.pool`), the kind of session
    (Zyte API or plain HTTP) and a session of that pool; for each response or
    error it decides whether the session stays, and replaces the sessions it
    retires.
    """

    def __init__(self, crawler: Crawler, settings: PoolsSettings) -> None:
        self._crawler = crawler
        self._settings = settings
        assert crawler.stats is not None
        self._stats = SessionStats(crawler.stats, per_pool=settings.stats_per_pool)
        self._backends = Backends(
            [
                ZyteAPIBackend(
                    transparent_mode=settings.transparent_mode,
                    retry_policy=settings.retry_policy,
                ),
                HTTPBackend(
                    blocked_status_codes=settings.blocked_status_codes,
                    rate_limit_status_codes=settings.rate_limit_status_codes,
                    connection_errors=settings.connection_errors,
                ),
            ]
        )
        self._closer = SpiderCloser(crawler, self._close_pools)
        context = SessionContext(crawler, settings, self._stats, self._backends)
        self._judge = SessionJudge(context, self._closer)
        self._initializer = SessionInitializer(context, self._closer)
        self.learning = PoolLearning(
            enabled=settings.learn_limits, on_change=self._stats.set_learned
        )
        self._observer = PoolsObserver(
            crawler,
            self._stats,
            lambda: self._pools,
            log_interval=settings.log_interval,
            learning=self.learning,
        )
        self._pools = PoolRegistry(
            settings,
            create_session=self._create_session,
            events=self._observer,
        )
        self._configs = ConfigLookup(crawler)
        self._maintenance = PoolMaintenance(
            context, self._pools, self.get_pool, self.learning
        )
        #: Requests of each pool still in Scrapy's scheduler.
        self.pending_requests = self._maintenance.pending
        self._resolver = PoolResolver(
            context, self._pools, self._maintenance.restored_sessions
        )
        self._leases = Leases()
        self.parking = ParkingLot(
            crawler,
            self._stats,
            after=settings.park_after,
            on_ready=lambda request, pool, session: self._leases.grant(
                pool, session, request
            ),
        )
        self._fingerprint_pools = FingerprintPools(crawler, self.config_for)
        self._handles: WeakKeyDictionary[Request, SessionHandle] = WeakKeyDictionary()

    @property
    def is_closing(self) -> bool:
        """Whether the crawl is stopping, so that no session work starts."""
        return self._closer.is_closing

    @property
    def pools(self) -> Iterator[Pool]:
        """The pools created so far."""
        return iter(self._pools)

    def config_for(self, request: Request) -> SessionConfig:
        """Return the session config instance for the URL of *request*."""
        return self._configs.config_for(request)

    def get_pool(self, request: Request) -> str | None:
        """Return the pool ID of *request* for its fingerprint (see
        :class:`~scrapy_session_pools.integrations.fingerprint.FingerprintPools`).
        """
        return self._fingerprint_pools.get_pool(request)

    async def assign(self, request: Request) -> Request | None:
        """Give *request* a session; return a replacement request, if any.

        The request holds a lease on its session from the moment it gets one;
        if anything fails before the request leaves, the lease is given back.
        A replacement request returned by :meth:`SessionConfig.process_request`
        takes the lease over.
        """
        self.pending_requests.unschedule(request)
        if meta.is_session_init_request(request):
            self._apply_to_init_request(request)
            return None
        if request.meta.get(meta.ASSIGNED_META_KEY):
            self._reapply(request)
            return None
        scrapy_poet.inherit_session_meta(request)
        async with self._closer.closing_on_fatal_error():
            config = self.config_for(request)
            if not await self._hook(config, "enabled", request):
                self._stats.increment_disabled()
                return None
            if self.is_closing:
                raise IgnoreRequest("The spider is closing")
            pool = await self._resolver.resolve(request, config)
            # Busy from now on: not evicted before the request reaches it.
            pool.last_activity = time.monotonic()
            cookie_mode = self._backends[pool.kind].has_cookie_mode and bool(
                await self._hook(config, "cookie_mode", request)
            )
            pool, session = await self.parking.acquire(
                request,
                pool,
                partial(self._acquire, pool, request, cookie_mode),
                partial(self._acquire_now, pool, request, cookie_mode),
            )
            if self._leases.of(request) is None:  # else given when parked
                self._leases.grant(pool, session, request)
            self._handles[request] = SessionHandle(session, pool, self._mark_bad)
            try:
                # A parked request may come back after its turn.
                await session.keep_gap(pool.options.min_delay(self._settings.jitter))
                self._attach(session, pool, request)
                result = await self._hook(config, "process_request", request)
            except BaseException:
                self._leases.release(request)
                raise
            if isinstance(result, Request) and result is not request:
                result.meta[meta.LEASE_META_KEY] = request.meta[meta.LEASE_META_KEY]
                self._handles[result] = self._handles[request]
        return result if isinstance(result, Request) else None

    async def _acquire(
        self, pool: Pool, request: Request, cookie_mode: bool
    ) -> Session:
        """Wait for a session of *pool* and apply it to *request* at once, so
        that nothing (e.g. its retirement) comes in between."""
        pinned = request.meta.get(meta.PINNED_SESSION)
        if pinned:
            session = await acquire_pinned(pool, request, str(pinned), self._stats)
        else:
            session = await pool.acquire(request)
        self._backends[pool.kind].apply(session, request, cookie_mode=cookie_mode)
        return session

    def _acquire_now(
        self, pool: Pool, request: Request, cookie_mode: bool
    ) -> Session | None:
        """Return a session of *pool* applied to *request* if one is free
        now (see :meth:`Pool.acquire_now`); pinned requests wait."""
        if request.meta.get(meta.PINNED_SESSION):
            return None
        session = pool.acquire_now(request)
        if session is not None:
            self._backends[pool.kind].apply(session, request, cookie_mode=cookie_mode)
        return session

    def handle_of(self, request: Request) -> SessionHandle | None:
        """Return the handle of the session *request* was sent with, if any."""
        return self._handles.get(request)

    def _mark_bad(self, pool: Pool, session: Session, score: float) -> bool:
        session.errors += score
        if session.errors >= max(1, self._settings.max_errors):
            return pool.retire(session, RetireReason.ERRORS)
        return False

    def release_dropped(self, request: Request) -> None:
        """Give back the lease of a request that the scheduler dropped."""
        self._leases.release(request)
        self.pending_requests.unschedule(request)

    def _attach(self, session: Session, pool: Pool, request: Request) -> None:
        request.meta.setdefault(meta.DONT_MERGE_COOKIES, True)
        request.meta[meta.ASSIGNED_META_KEY] = True
        request.meta[meta.SENT_AT] = session.last_sent
        request.meta[meta.POOL_META_KEY] = pool.id
        request.meta[meta.KIND_META_KEY] = pool.kind.value
        logger.debug(
            "Request %s uses session %s of pool %s",
            request,
            session.id,
            pool.id,
            extra={"spider": self._crawler.spider, "pool": pool.id},
        )

    def _reapply(self, request: Request) -> None:
        """Keep the session of a request that already got one (a redirect).

        A redirect is one more request sent with the session: it takes a
        lease and counts as a use. An HTTP session also refreshes its
        cookies for the new URL.
        """
        found = self._session_of(request)
        session = found[1] if found is not None else None
        if found is None or session is None:
            return
        pool = found[0]
        if self._leases.of(request) is None and session.is_alive:
            pool.use_now(session)
            self._leases.grant(pool, session, request)
        if request not in self._handles:
            self._handles[request] = SessionHandle(session, pool, self._mark_bad)
        self._backends[pool.kind].reapply(session, request)

    def _apply_to_init_request(self, request: Request) -> None:
        found = self._initializer.initialization_of(request)
        if found is not None:
            session, backend = found
            backend.reapply(session, request)

    async def _hook(self, config: SessionConfig, hook: str, *args: Any) -> Any:
        """Call the hook *hook* of *config* for the request in *args*."""
        request = args[-1]
        return await run_hook(self._crawler, config, hook, *args, request=request)

    async def check(self, response: Response, request: Request) -> str | None:
        """Check *response*; return why to retry the request, or ``None``.

        A reason (e.g. ``"session_expired"``) means that the request must be
        retried with another session.
        """
        if meta.is_session_init_request(request):
            self._initializer.observe(response, request)
            return None
        # Requests that scrapy-poet providers send while this response is
        # processed further (e.g. by InjectionMiddleware) serve *request*.
        scrapy_poet.serve(request)
        if scrapy_poet.is_dummy_response(response):
            return None
        found = self._answered_session(request)
        if found is None:
            return None
        pool, session = found
        return await self._judge.judge_response(
            pool, session, response, request, self.config_for(request)
        )

    def report_exception(
        self, request: Request, exception: BaseException
    ) -> Outcome | None:
        """Record what *exception* says about the session of *request*."""
        if meta.is_session_init_request(request):
            return None
        found = self._answered_session(request)
        if found is None:
            # E.g. back from parking, failed before reaching the middleware.
            self._leases.release(request)
            return None
        pool, session = found
        return self._judge.judge_exception(pool, session, exception, request)

    def start(self) -> None:
        """Start background work: the periodic log line, saves, eviction."""
        self._observer.start()
        self._maintenance.start()

    def close(self, reason: str = "finished") -> None:
        """Stop all session work (the spider closed for *reason*); save, log."""
        self._maintenance.stop()
        self._observer.stop()
        self._close_pools(reason)
        self.parking.close()
        self._leases.release_all()
        self._configs.report()

    def save(self, store: FileStore | None = None) -> bool:
        """Save the live sessions of every pool (see :class:`PoolMaintenance`)."""
        return self._maintenance.save(store)

    def _close_pools(self, reason: str) -> None:
        self._initializer.close()
        for pool in self._pools:
            pool.close()
        logger.debug("Closed %d session pool(s): %s", len(self._pools), reason)

    def _session_of(self, request: Request) -> tuple[Pool, Session | None] | None:
        pool_id = request.meta.get(meta.POOL_META_KEY)
        kind = request.meta.get(meta.KIND_META_KEY, "zyte_api")
        pool = self._pools.get(kind, pool_id) if isinstance(pool_id, str) else None
        if pool is None:
            return None
        session_id = self._backends[pool.kind].session_id(request)
        return pool, pool.get(session_id) if session_id else None

    def _answered_session(self, request: Request) -> tuple[Pool, Session | None] | None:
        """Like :meth:`_session_of`, for a response or an exception.

        Ends the turn of the request on its session, and warns if the
        request lost its session ID on the way.
        """
        found = self._session_of(request)
        if found is None:
            return None
        pool, session = found
        lease = self._leases.release(request)
        if self._backends[pool.kind].session_id(request) is None:
            meta.log_missing_session_id(request)
        elif (
            session is None
            and lease is not None
            and lease.session.retire_reason in DEATHS
        ):
            # Sent before its session died, answered after: the death was
            # counted already, by the request whose answer showed it.
            request.meta[meta.LATE_META_KEY] = True
        return found

    def free_retry(self, request: Request) -> bool:
        """Whether the retry of *request* must not count against
        :setting:`RETRY_TIMES`: its session had retired before its answer
        came back, at most :data:`MAX_FREE_RETRIES` times per request."""
        if not request.meta.pop(meta.LATE_META_KEY, False):
            return False
        if request.meta.get(meta.FREE_RETRIES_META_KEY, 0) >= MAX_FREE_RETRIES:
            return False
        pool_id = request.meta.get(meta.POOL_META_KEY)
        self._stats.increment(
            stats.USE_LATE_RETRY, pool_id if isinstance(pool_id, str) else None
        )
        return True

    async def _create_session(self, pool: Pool, request: Request) -> Session:
        config = self.config_for(request)
        cookie_mode = self._backends[pool.kind].has_cookie_mode and bool(
            await self._hook(config, "cookie_mode", request)
        )
        return await self._initializer.create(
            pool, config, request, cookie_mode=cookie_mode
        )

    # Control API (see scrapy_session_pools.control.SessionControl).

    def find_session(self, session_id: str) -> tuple[Pool, Session] | None:
        """Return the live session *session_id* and its pool, if any."""
        for pool in self._pools:
            session = pool.get(session_id)
            if session is not None:
                return pool, session
        return None

    def pools_by_id(self, pool_id: str) -> list[Pool]:
        """Return the pools with the ID *pool_id* (one per session kind)."""
        return self._pools.find(pool_id)

    def session_of(self, request: Request) -> Session | None:
        """Return the live session that *request* was sent with, if any.

        For a session initialization request, that is the session being
        initialized.
        """
        if meta.is_session_init_request(request):
            initialization = self._initializer.initialization_of(request)
            return initialization[0] if initialization is not None else None
        found = self._session_of(request)
        return found[1] if found is not None else None

    def add_session(self, pool_id: str, session: Session, kind: str) -> Pool:
        """Add a session made elsewhere to the pool *pool_id* of *kind*."""
        if not self._backends.has(kind):
            raise ValueError(
                f"Unknown session kind {kind!r}; expected 'zyte_api' or 'http'"
            )
        pool = self._pools.get(kind, pool_id) or self._resolver.create(
            pool_id,
            self._pools.options_for(pool_id, {}),
            kind,
            "a session added with SessionControl.add()",
        )
        pool.add(session)
        return pool

    def start_session(
        self, session: Session, kind: str, cookies: Iterable[dict[str, Any]]
    ) -> None:
        """Give a session made elsewhere its transport state (cookies)."""
        self._backends[kind].start(session, cookies)
