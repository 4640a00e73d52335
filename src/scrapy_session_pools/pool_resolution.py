"""PoolResolver: from a request and its config to its pool, created as needed.

Config → pool ID and options → kind of session → pool, with its restored
sessions and seeds when it is new.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from . import meta
from .backends import SessionKind
from .context import UsesContext
from .errors import PoolError
from .hooks import HookError, run_hook
from .identities import Profile, parse_profiles
from .pool_registry import parse_pool_value
from .session import Session

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapy import Request

    from .config import SessionConfig
    from .context import SessionContext
    from .pool import Pool
    from .pool_options import PoolOptions
    from .pool_registry import PoolRegistry

logger = logging.getLogger(__name__)

_KIND_NAMES = {SessionKind.ZYTE_API: "Zyte API", SessionKind.HTTP: "HTTP"}


class PoolResolver(UsesContext):
    """Finds the pool of each request, creating it on first use.

    *pools* is the registry of pools; *restored_sessions* returns the saved
    sessions of a new pool. Zyte API sessions are the default kind when
    scrapy-zyte-api's download handler is the transport of the crawl.
    """

    def __init__(
        self,
        context: SessionContext,
        pools: PoolRegistry,
        restored_sessions: Callable[[Pool], list[Session]],
    ) -> None:
        self._context = context
        self._pools = pools
        self._restored_sessions = restored_sessions

    async def resolve(self, request: Request, config: SessionConfig) -> Pool:
        """Return the pool of *request*; record its kind in its meta.

        Raises :exc:`~scrapy_session_pools.PoolError` (counted) if
        :meth:`SessionConfig.pool` or another pool hook fails.
        """
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
                profiles = await self._profiles(config, request, pool_id, kind)
                pool = self.create(pool_id, options, kind, why, profiles)
        except PoolError as error:
            self._stats.increment_pool_error()
            logger.error("%s", error, extra={"spider": self._crawler.spider})
            raise
        request.meta[meta.KIND_META_KEY] = kind
        return pool

    async def _hook(self, config: SessionConfig, hook: str, request: Request) -> Any:
        return await run_hook(self._crawler, config, hook, request, request=request)

    async def _kind(
        self, config: SessionConfig, request: Request, pool_kind: str | None
    ) -> tuple[SessionKind, str]:
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
            if self._settings.zyte_api_transport:
                return (
                    SessionKind.ZYTE_API,
                    "scrapy-zyte-api's download handler is the transport",
                )
            return SessionKind.HTTP, "the crawl has no Zyte API download handler"
        if not self._backends.has(chosen):
            raise PoolError(
                f"{type(config).__qualname__}.session_kind() returned {chosen!r} "
                f"for {request}; expected 'zyte_api' or 'http'"
            )
        return SessionKind(chosen), why

    async def _profiles(
        self, config: SessionConfig, request: Request, pool_id: str, kind: str
    ) -> tuple[Profile, ...]:
        if kind is not SessionKind.HTTP:
            return ()
        raw = await self._hook(config, "profiles", request)
        try:
            return parse_profiles(
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

    def create(
        self,
        pool_id: str,
        options: PoolOptions,
        kind: str,
        why: str,
        profiles: tuple[Profile, ...] = (),
    ) -> Pool:
        """Return the pool, created with its restored sessions and seeds if new.

        *why* says why its sessions are of *kind*, for the log.
        """
        backend = self._backends[kind]
        pool, is_new = self._pools.get_or_create(pool_id, options, backend, profiles)
        if is_new:
            logger.info(
                "Session pool %s: %s sessions (%s)",
                pool_id,
                _KIND_NAMES[backend.kind],
                why,
                extra={"spider": self._crawler.spider, "pool": pool_id},
            )
            pool.seed(self._restored_sessions(pool), keep_age=True)
            pool.seed(self._seed_sessions(pool))
        return pool

    def _seed_sessions(self, pool: Pool) -> list[Session]:
        """The seeds of an HTTP pool (Zyte API pools ignore seeds)."""
        if pool.kind is not SessionKind.HTTP:
            return []
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
