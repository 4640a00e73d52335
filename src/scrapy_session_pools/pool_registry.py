"""PoolRegistry: from a pool value to a Pool of the right kind and options."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .backends import SessionKind
from .errors import PoolError, troubleshooting_link
from .identities import ProfileRotation
from .pool import Pool
from .pool_context import PoolContext
from .pool_options import PoolOptions

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator, Mapping

    from scrapy import Request

    from .backends import SessionBackend
    from .identities import Profile
    from .pool_events import PoolEvents
    from .session import Limits, Session
    from .settings import PoolsSettings

logger = logging.getLogger(__name__)


def parse_pool_value(value: Any, request: Request) -> tuple[str, dict[str, Any]]:
    """Split what :meth:`SessionConfig.pool` returned into an ID and options.

    Raises :exc:`~scrapy_session_pools.PoolError` for anything but a
    non-empty string or a dict with a non-empty string ``id``.
    """
    if isinstance(value, str) and value:
        return value, {}
    if isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"]:
        return value["id"], {k: v for k, v in value.items() if k != "id"}
    raise PoolError(
        f"The session pool of {request} must be a non-empty string or a "
        f"dict with an 'id' key, got {value!r}. See "
        f"{troubleshooting_link('pool-error')}"
    )


class PoolRegistry:
    """The pools of a crawl, keyed by session kind and pool ID.

    The options of a pool come, by precedence, from
    :setting:`ZYTE_API_SESSION_POOLS`, from the pool dict that created it and
    from the global settings; they are fixed when the pool is created.
    """

    def __init__(
        self,
        settings: PoolsSettings,
        *,
        create_session: Callable[[Pool, Request], Awaitable[Session]],
        events: PoolEvents,
    ) -> None:
        self._settings = settings
        self._context = PoolContext(
            create_session=create_session,
            events=events,
            jitter=settings.jitter,
            max_wait=settings.max_wait,
            age_timer_horizon=settings.pool_idle_timeout,
        )
        self._pools: dict[tuple[SessionKind, str], Pool] = {}
        # Pools with the default options, or the same ones, share them.
        self._defaults = settings.default_pool_options
        self._limits: dict[tuple[SessionKind, PoolOptions], Limits] = {}

    def __iter__(self) -> Iterator[Pool]:
        return iter(list(self._pools.values()))

    def __len__(self) -> int:
        return len(self._pools)

    def find(self, pool_id: str) -> list[Pool]:
        """Return the pools with the ID *pool_id* (one per session kind)."""
        return [pool for (_, key), pool in self._pools.items() if key == pool_id]

    def remove(self, pool: Pool) -> None:
        """Forget *pool* (it must be closed first)."""
        self._pools.pop((pool.kind, pool.id), None)

    def get(self, kind: str, pool_id: str) -> Pool | None:
        """Return the pool *pool_id* of sessions of *kind*, if it exists."""
        if not isinstance(kind, SessionKind):
            try:
                kind = SessionKind(kind)
            except ValueError:
                return None
        return self._pools.get((kind, pool_id))

    def options_for(self, pool_id: str, mapping: Mapping[str, Any]) -> PoolOptions:
        """Return the options of the pool *pool_id* given its pool dict options."""
        options = self._settings.pools.get(pool_id)
        if options is not None:
            return options
        defaults = self._defaults
        if not mapping:
            return defaults
        try:
            return PoolOptions.from_mapping(mapping, defaults)
        except ValueError as error:
            raise PoolError(
                f"Bad options for session pool {pool_id!r}: {error}. See "
                f"{troubleshooting_link('pool-error')}"
            ) from error

    def get_or_create(
        self,
        pool_id: str,
        options: PoolOptions,
        backend: SessionBackend,
        profiles: tuple[Profile, ...],
    ) -> tuple[Pool, bool]:
        """Return the pool, creating it if needed; the flag says if it is new.

        A new pool gets sessions of the kind of *backend*, with the limits
        that *backend* gives its options.
        """
        kind = backend.kind
        existing = self._pools.get((kind, pool_id))
        if existing is not None:
            return existing, False
        limits = self._limits.get((kind, options))
        if limits is None:
            limits = self._limits[kind, options] = backend.limits(options)
        pool = Pool(pool_id, options, kind=kind, limits=limits, context=self._context)
        if profiles:
            pool.profiles = ProfileRotation(profiles)
        self._pools[kind, pool_id] = pool
        logger.info(
            "Created session pool %s of %s sessions (size %d, delay %g s)",
            pool_id,
            kind,
            options.size,
            options.delay,
            extra={"pool": pool_id},
        )
        return pool, True
