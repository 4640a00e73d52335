"""SessionManager: from a request to its config, pool and session, and back."""

from __future__ import annotations

import logging
import time
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.misc import build_from_crawler

from . import meta, stats
from .backends import Outcome
from .backends.http import HTTPBackend
from .backends.zyte_api import ZyteAPIBackend
from .errors import PoolError, SpiderCloser
from .handles import SessionHandle
from .hooks import HookError, WouldBlock, run_hook, run_hook_now
from .identities import Profile, parse_profiles
from .init_requests import SessionInitializer
from .leases import Leases
from .maintenance import PoolMaintenance
from .observability import PoolsObserver
from .pool_registry import PoolRegistry, parse_pool_value
from .registry import session_config_registry
from .session import RetireReason, Session
from .stats import SessionStats

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from .config import SessionConfig
    from .pool import Pool
    from .pool_options import PoolOptions
    from .settings import PoolsSettings
    from .stores.file import FileStore

logger = logging.getLogger(__name__)

#: The request whose response is being processed in the current task.
_served_request: ContextVar[Request | None] = ContextVar(
    "_served_request", default=None
)


try:
    from scrapy_poet.api import DummyResponse
except ImportError:  # pragma: no cover - scrapy-poet is optional
    DummyResponse = None  # type: ignore[assignment,misc]  # no scrapy-poet


_KIND_NAMES = {"zyte_api": "Zyte API", "http": "HTTP"}
#: Start of the pool ID, unique to its request, that request fingerprints
#: get when the pool cannot be known synchronously.
_UNKNOWN_POOL = "unknown-pool:"


def _is_dummy_response(response: Response) -> bool:
    return DummyResponse is not None and isinstance(response, DummyResponse)


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
        self._zyte_api = ZyteAPIBackend(
            transparent_mode=settings.transparent_mode,
            is_transport=settings.zyte_api_transport,
        )
        self._backends: dict[str, Any] = {
            "zyte_api": self._zyte_api,
            "http": HTTPBackend(
                blocked_status_codes=settings.blocked_status_codes,
                rate_limit_status_codes=settings.rate_limit_status_codes,
                connection_errors=settings.connection_errors,
            ),
        }
        self._closer = SpiderCloser(crawler, self._close_pools)
        self._initializer = SessionInitializer(
            crawler, settings, self._stats, self._backends, self._closer
        )
        self._observer = PoolsObserver(
            crawler,
            self._stats,
            lambda: self._pools,
            log_interval=settings.log_interval,
        )
        self._pools = PoolRegistry(
            settings,
            create_session=self._create_session,
            events=self._observer,
        )
        self._configs: dict[type[SessionConfig], SessionConfig] = {}
        self._request_configs: WeakKeyDictionary[Request, SessionConfig] = (
            WeakKeyDictionary()
        )
        self._maintenance = PoolMaintenance(
            crawler, settings, self._pools, self._stats, self._backends
        )
        self._leases = Leases()
        self._handles: WeakKeyDictionary[Request, SessionHandle] = WeakKeyDictionary()
        self._blocking_hooks_warned: set[type[SessionConfig]] = set()

    @property
    def is_closing(self) -> bool:
        """Whether the crawl is stopping, so that no session work starts."""
        return self._closer.is_closing

    @property
    def pools(self) -> Iterator[Pool]:
        """The pools created so far."""
        return iter(self._pools)

    def config_for(self, request: Request) -> SessionConfig:
        """Return the session config instance for the URL of *request*.

        The URL-pattern lookup runs once per request object (fingerprinting,
        assignment and checks all ask).
        """
        config = self._request_configs.get(request)
        if config is not None:
            return config
        cls = session_config_registry.session_config_cls(request)
        config = self._configs.get(cls)
        if config is None:
            config = self._configs[cls] = build_from_crawler(cls, self._crawler)
        self._request_configs[request] = config
        return config

    def get_pool(self, request: Request) -> str | None:
        """Return the pool ID of *request*, or ``None`` if it uses no session.

        Used by request fingerprinting, so it runs synchronously and creates
        no pool. An ``async`` :meth:`SessionConfig.enabled` or
        :meth:`SessionConfig.pool` that finishes without waiting is run to
        its end; one that waits for something makes the fingerprint unique
        to the request, so that no request is dropped as a duplicate of a
        request of another pool.
        """
        if meta.is_session_init_request(request):
            return None
        try:
            config = self.config_for(request)
            if not run_hook_now(
                self._crawler, config, "enabled", request, request=request
            ):
                return None
            value = run_hook_now(
                self._crawler, config, "pool", request, request=request
            )
            return parse_pool_value(value, request)[0]
        except WouldBlock:
            self._warn_blocking_hook(request)
            return f"{_UNKNOWN_POOL}{id(request)}"
        except Exception as exception:  # noqa: BLE001
            # The same error stops the crawl when the request is assigned.
            logger.debug(
                "No session pool for the fingerprint of %s: %r", request, exception
            )
            return None

    def _warn_blocking_hook(self, request: Request) -> None:
        config_cls = type(self.config_for(request))
        if config_cls in self._blocking_hooks_warned:
            return
        self._blocking_hooks_warned.add(config_cls)
        logger.warning(
            "%s.enabled() or .pool() waits for something, so request "
            "fingerprints cannot include the session pool of its requests; "
            "they are never filtered as duplicates. Make those methods return "
            "without awaiting anything to fix this.",
            config_cls.__qualname__,
            extra={"spider": self._crawler.spider},
        )

    async def assign(self, request: Request) -> Request | None:
        """Give *request* a session; return a replacement request, if any.

        The request holds a lease on its session from the moment it gets one;
        if anything fails before the request leaves, the lease is given back.
        A replacement request returned by :meth:`SessionConfig.process_request`
        takes the lease over.
        """
        if meta.is_session_init_request(request):
            self._apply_to_init_request(request)
            return None
        if request.meta.get(meta.ASSIGNED_META_KEY):
            self._reapply(request)
            return None
        _inherit_session_meta(request)
        async with self._closer.closing_on_fatal_error():
            config = self.config_for(request)
            if not await self._hook(config, "enabled", request):
                self._stats.increment_disabled()
                return None
            if self.is_closing:
                raise IgnoreRequest("The spider is closing")
            pool = await self._pool_for(request, config)
            pinned = request.meta.get(meta.PINNED_SESSION)
            if pinned:
                session = await self._acquire_pinned(pool, request, str(pinned))
            else:
                session = await pool.acquire(request)
            self._leases.grant(pool, session, request)
            self._handles[request] = SessionHandle(session, pool, self._mark_bad)
            try:
                cookie_mode = pool.kind == "zyte_api" and bool(
                    await self._hook(config, "cookie_mode", request)
                )
                self._attach(session, pool, request, cookie_mode=cookie_mode)
                result = await self._hook(config, "process_request", request)
            except BaseException:
                self._leases.release(request)
                raise
            if isinstance(result, Request) and result is not request:
                result.meta[meta.LEASE_META_KEY] = request.meta[meta.LEASE_META_KEY]
                self._handles[result] = self._handles[request]
        return result if isinstance(result, Request) else None

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

    async def _acquire_pinned(
        self, pool: Pool, request: Request, session_id: str
    ) -> Session:
        session = pool.get(session_id)
        if session is not None and session.is_alive:
            return await pool.acquire_session(session, request)
        self._stats.increment(stats.USE_PIN_LOST, pool.id)
        policy = request.meta.get(meta.PIN_POLICY, "fail")
        if policy not in {"fail", "renew"}:
            logger.error(
                "%s has zyte_api_session_pin_policy=%r; expected 'fail' or "
                "'renew'. Failing it.",
                request,
                policy,
                extra={"spider": self._crawler.spider, "pool": pool.id},
            )
        if policy != "renew":
            raise IgnoreRequest(
                f"{request} is pinned to session {session_id} of pool {pool.id}, "
                f"which has ended (zyte_api_session_pin_policy={policy!r})"
            )
        session = await pool.acquire_new(request)
        request.meta[meta.PINNED_SESSION] = session.id
        logger.debug(
            "Pinned session %s of pool %s had ended; %s continues with the new "
            "session %s",
            session_id,
            pool.id,
            request,
            session.id,
            extra={"spider": self._crawler.spider, "pool": pool.id},
        )
        return session

    def _attach(
        self, session: Session, pool: Pool, request: Request, *, cookie_mode: bool
    ) -> None:
        self._backends[pool.kind].apply(session, request, cookie_mode=cookie_mode)
        request.meta.setdefault(meta.DONT_MERGE_COOKIES, True)
        request.meta[meta.ASSIGNED_META_KEY] = True
        request.meta[meta.POOL_META_KEY] = pool.id
        request.meta[meta.KIND_META_KEY] = pool.kind
        if pool.kind == "zyte_api":
            request.meta.setdefault(meta.RETRY_POLICY, self._settings.retry_policy)
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
        if pool.kind == "http":
            self._backends["http"].apply(session, request, cookie_mode=False)

    def _apply_to_init_request(self, request: Request) -> None:
        session_id = request.meta.get(meta.SESSION_ID_META_KEY)
        session = self._initializer.initializing.get(str(session_id))
        if session is not None:
            self._backends["http"].apply(session, request, cookie_mode=False)

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
            session_id = request.meta.get(meta.SESSION_ID_META_KEY)
            session = self._initializer.initializing.get(str(session_id))
            if session is not None:
                self._backends["http"].update(session, response, request)
            return None
        # Requests that scrapy-poet providers send while this response is
        # processed further (e.g. by InjectionMiddleware) serve *request*.
        _served_request.set(request)
        if _is_dummy_response(response):
            return None
        found = self._answered_session(request)
        if found is None:
            return None
        pool, session = found
        backend = self._backends[pool.kind]
        if session is not None and pool.kind == "http":
            backend.update(session, response, request)
        verdict = backend.judge(response)
        if verdict is not None:
            return self._judge(pool, session, request, verdict.outcome, verdict.pause)
        if await self._check(pool, session, response, request):
            return None
        return "session_expired"

    async def _check(
        self, pool: Pool, session: Session | None, response: Response, request: Request
    ) -> bool:
        config = self.config_for(request)
        try:
            async with self._closer.closing_on_fatal_error():
                is_good = await self._hook(config, "check", response, request)
        except HookError:
            self._stats.increment(stats.USE_CHECK_ERROR, pool.id)
            self._retire(pool, session, RetireReason.CHECK_ERROR, request)
            return False
        if is_good:
            pool.checks_passed += 1
            self._stats.increment(stats.USE_CHECK_PASSED, pool.id)
            if session is not None:
                session.record_success(pool.options.error_decay)
                if session.profile is not None:
                    pool.profiles.record_success(session.profile)
                if meta.COOKIE_SESSION_ID_META_KEY in request.meta:
                    self._zyte_api.update(session, response, request)
            elif pool.kind == "zyte_api" and await self._hook(
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
        pool.checks_failed += 1
        self._stats.increment(stats.USE_CHECK_FAILED, pool.id)
        if session is not None and session.record_check_failure(
            self._settings.max_check_failures
        ):
            self._retire(pool, session, RetireReason.CHECK_FAILURES, request)
        return False

    def _judge(
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
            self._retire(pool, session, RetireReason.BLOCKED, request)
            return "session_blocked"
        self._stats.increment(stats.USE_RATE_LIMITED, pool.id)
        if session is not None:
            session.next_use = max(session.next_use, time.monotonic() + pause)
        return "session_rate_limited"

    def report_exception(
        self, request: Request, exception: BaseException
    ) -> Outcome | None:
        """Record what *exception* says about the session of *request*."""
        if meta.is_session_init_request(request):
            return None
        found = self._answered_session(request)
        if found is None:
            return None
        pool, session = found
        outcome: Outcome | None = self._backends[pool.kind].classify(exception)
        if outcome is Outcome.EXPIRED:
            self._stats.increment(stats.USE_EXPIRED, pool.id)
            self._retire(pool, session, RetireReason.EXPIRED, request)
        elif outcome is Outcome.ERROR:
            self._stats.increment(stats.USE_FAILED, pool.id)
            if session is not None and session.record_error(self._settings.max_errors):
                self._retire(pool, session, RetireReason.ERRORS, request)
        return outcome

    def start(self) -> None:
        """Start background work: the periodic log line, saves, eviction."""
        self._observer.start()
        self._maintenance.start()

    def close(self, reason: str = "finished") -> None:
        """Stop all session work (the spider closed for *reason*); save, log."""
        self._maintenance.stop()
        self._observer.stop()
        self._close_pools(reason)
        self._leases.release_all()

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
        pool = found[0]
        self._leases.release(request)
        if self._backends[pool.kind].session_id(request) is None:
            meta.log_missing_session_id(request)
        return found

    def _retire(
        self,
        pool: Pool,
        session: Session | None,
        reason: RetireReason,
        request: Request,
    ) -> None:
        if session is not None:
            pool.retire(session, reason, request)

    async def _pool_for(self, request: Request, config: SessionConfig) -> Pool:
        try:
            value = await self._hook(config, "pool", request)
        except HookError as error:
            self._stats.increment_pool_error()
            raise PoolError(
                f"{type(config).__qualname__}.pool() raised "
                f"{error.__cause__!r} for {request}"
            ) from error.__cause__
        try:
            pool_id, mapping = parse_pool_value(value, request)
            options = self._pools.options_for(pool_id, mapping)
            kind, why = await self._kind(config, request, options.kind)
            pool = self._pools.get(kind, pool_id)
            if pool is None:
                pool = await self._create_pool(
                    pool_id, options, (kind, why), config, request
                )
        except PoolError as error:
            self._stats.increment_pool_error()
            logger.error("%s", error, extra={"spider": self._crawler.spider})
            raise
        request.meta[meta.KIND_META_KEY] = kind
        return pool

    async def _kind(
        self, config: SessionConfig, request: Request, pool_kind: str | None
    ) -> tuple[str, str]:
        """Return the kind of session of *request*, and why it is that kind."""
        chosen = await self._hook(config, "session_kind", request)
        why = (
            f"chosen by {type(config).__qualname__}.session_kind() "
            f"(default: the {meta.KIND} meta key)"
        )
        if not chosen and pool_kind is not None:
            chosen, why = pool_kind, "the kind option of the pool"
            if self._settings.kind == pool_kind:
                why = "ZYTE_API_SESSION_KIND or the kind option of the pool"
        if not chosen:
            if self._zyte_api.handles(request):
                return "zyte_api", "scrapy-zyte-api's download handler is the transport"
            return "http", "the crawl has no Zyte API download handler"
        if chosen not in self._backends:
            raise PoolError(
                f"{type(config).__qualname__}.session_kind() returned {chosen!r} "
                f"for {request}; expected 'zyte_api' or 'http'"
            )
        return str(chosen), why

    async def _create_pool(
        self,
        pool_id: str,
        options: Any,
        kind_and_why: tuple[str, str],
        config: SessionConfig,
        request: Request,
    ) -> Pool:
        kind = kind_and_why[0]
        profiles: tuple[Profile, ...] = ()
        if kind == "http":
            raw = await self._hook(config, "profiles", request)
            try:
                profiles = parse_profiles(
                    [
                        {"name": p.name, "proxy": p.proxy, "headers": dict(p.headers)}
                        if isinstance(p, Profile)
                        else p
                        for p in raw or ()
                    ]
                )
            except ValueError as error:
                raise PoolError(
                    f"{type(config).__qualname__}.profiles() returned a bad "
                    f"profile for pool {pool_id!r}: {error}"
                ) from error
        return self._new_pool(pool_id, options, kind_and_why, profiles)

    def _new_pool(
        self,
        pool_id: str,
        options: PoolOptions,
        kind_and_why: tuple[str, str],
        profiles: tuple[Profile, ...],
    ) -> Pool:
        """Create a pool with its restored sessions, then its seeds."""
        kind, why = kind_and_why
        pool, is_new = self._pools.get_or_create(pool_id, options, kind, profiles)
        if is_new:
            logger.info(
                "Session pool %s: %s sessions (%s)",
                pool_id,
                _KIND_NAMES[kind],
                why,
                extra={"spider": self._crawler.spider, "pool": pool_id},
            )
            pool.seed(self._maintenance.restored_sessions(pool), keep_age=True)
            if kind == "http":
                pool.seed(self._seed_sessions(pool))
        return pool

    def _seed_sessions(self, pool: Pool) -> list[Session]:
        sessions = []
        for index, seed in enumerate(self._settings.seeds.get(pool.id, ())):
            session = Session(
                id=f"seed-{pool.id}-{index}",
                pool_id=pool.id,
                created_at=time.monotonic(),
                profile=seed.profile,
            )
            self._backends[pool.kind].start(session, seed.cookies)
            sessions.append(session)
        return sessions

    async def _create_session(self, pool: Pool, request: Request) -> Session:
        config = self.config_for(request)
        cookie_mode = pool.kind == "zyte_api" and bool(
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
            for backend in self._backends.values():
                session_id = backend.session_id(request)
                if session_id in self._initializer.initializing:
                    return self._initializer.initializing[session_id]
            return None
        found = self._session_of(request)
        return found[1] if found is not None else None

    def add_session(self, pool_id: str, session: Session, kind: str) -> Pool:
        """Add a session made elsewhere to the pool *pool_id* of *kind*."""
        if kind not in self._backends:
            raise ValueError(
                f"Unknown session kind {kind!r}; expected 'zyte_api' or 'http'"
            )
        pool = self._pools.get(kind, pool_id)
        if pool is None:
            pool = self._new_pool(
                pool_id,
                self._pools.options_for(pool_id, {}),
                (kind, "a session added with SessionControl.add()"),
                (),
            )
        pool.add(session)
        return pool

    def start_session(
        self, session: Session, kind: str, cookies: Iterable[dict[str, Any]]
    ) -> None:
        """Give a session made elsewhere its transport state (cookies)."""
        self._backends[kind].start(session, cookies)
