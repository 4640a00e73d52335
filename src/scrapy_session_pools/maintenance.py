"""PoolMaintenance: saving and restoring sessions, and evicting idle pools."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from . import meta
from .context import UsesContext
from .persistence.state import dump_pools, load_session, saved_learned, saved_sessions
from .persistence.stores.file import FileStore
from .session import RetireReason
from .tasks import start_background

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapy import Request

    from .context import SessionContext
    from .lifetimes import PoolLearning
    from .pool import Pool
    from .pool_registry import PoolRegistry
    from .session import Session

logger = logging.getLogger(__name__)


class PendingRequests:
    """How many requests each pool has waiting in Scrapy's scheduler.

    A pool with requests still to come is not idle, however long ago its
    last request was answered: eviction waits for them. A request counts
    from the moment it is scheduled until it reaches the session middleware
    or the scheduler drops it; *pool_of* tells the pool of a request.
    """

    def __init__(self, pool_of: Callable[[Request], str | None]) -> None:
        self._pool_of = pool_of
        self._counts: dict[str, int] = {}

    def __getitem__(self, pool_id: str) -> int:
        return self._counts.get(pool_id, 0)

    def schedule(self, request: Request) -> None:
        """Count *request*, now in the scheduler, as demand for its pool."""
        if meta.SCHEDULED_POOL_META_KEY in request.meta:
            return
        pool_id = self._pool_of(request)
        if pool_id is not None:
            request.meta[meta.SCHEDULED_POOL_META_KEY] = pool_id
            self._counts[pool_id] = self._counts.get(pool_id, 0) + 1

    def unschedule(self, request: Request) -> None:
        """Stop counting *request*, which left the scheduler."""
        pool_id = request.meta.pop(meta.SCHEDULED_POOL_META_KEY, None)
        if pool_id is None:
            return
        count = self._counts.get(pool_id, 0) - 1
        if count > 0:
            self._counts[pool_id] = count
        else:
            self._counts.pop(pool_id, None)


class PoolMaintenance(UsesContext):
    """Background care of the pools of a crawl.

    With a state file (:setting:`ZYTE_API_SESSION_STATE_FILE`, or the
    ``JOBDIR``), it loads the saved sessions when the crawl starts, hands them
    to their pools as the pools are created, and saves the live sessions every
    :setting:`ZYTE_API_SESSION_SAVE_INTERVAL` seconds and when the crawl
    stops. With :setting:`ZYTE_API_SESSION_POOL_IDLE_TIMEOUT`, it evicts the
    pools that stay idle longer than that, with no request of theirs left in
    the scheduler (*pool_of* tells the pool of a request).
    """

    def __init__(
        self,
        context: SessionContext,
        pools: PoolRegistry,
        pool_of: Callable[[Request], str | None],
        learning: PoolLearning,
    ) -> None:
        self._context = context
        self._pools = pools
        self._learning = learning
        settings = context.settings
        self._store = FileStore(settings.state_file) if settings.state_file else None
        state = self._store.load() if self._store is not None else None
        self._saved = saved_sessions(state)
        self._saved_learned = saved_learned(state)
        self._saved_at = float((state or {}).get("saved_at") or time.time())
        self._task: asyncio.Task[None] | None = None
        #: Requests of each pool still in Scrapy's scheduler.
        self.pending = PendingRequests(pool_of)

    def start(self) -> None:
        """Start the periodic saves and evictions, if any is configured."""
        tick = self._tick()
        if tick is not None and self._task is None:
            self._task = start_background(
                self._maintain(tick), "saving and evicting session pools"
            )

    def stop(self) -> None:
        """Stop the periodic work and save the live sessions one last time."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.save()

    def save(self, store: FileStore | None = None) -> bool:
        """Save the live sessions of every pool to *store* (default: the
        state file of the crawl); return whether anything was saved."""
        store = store or self._store
        if store is None:
            return False
        return self._write(store, dump_pools(self._pools, self._backends))

    async def save_in_background(self) -> bool:
        """Like :meth:`save`, with the file written outside the event loop.

        The state is taken on the event loop, so that it is consistent; its
        serialization and the write (with ``fsync``) run in a thread, so
        that a large state does not hold up the crawl.
        """
        if self._store is None:
            return False
        state = dump_pools(self._pools, self._backends)
        return await asyncio.to_thread(self._write, self._store, state)

    def _write(self, store: FileStore, state: dict[str, Any]) -> bool:
        try:
            store.save(state)
        except OSError as error:
            logger.warning(
                "Could not save the session state to %s: %s",
                getattr(store, "path", store),
                error,
                extra={"spider": self._crawler.spider},
            )
            return False
        return True

    def _tick(self) -> float | None:
        ticks = []
        if self._store is not None and self._settings.save_interval > 0:
            ticks.append(self._settings.save_interval)
        if self._settings.pool_idle_timeout:
            ticks.append(min(60.0, self._settings.pool_idle_timeout / 4))
        return min(ticks) if ticks else None

    async def _maintain(self, tick: float) -> None:
        last_save = time.monotonic()
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            if (
                self._store is not None
                and now - last_save >= self._settings.save_interval
            ):
                await self.save_in_background()
                last_save = now
            self.evict_idle_pools(now)

    def evict_idle_pools(self, now: float | None = None) -> int:
        """Close and forget the pools idle for longer than the idle timeout."""
        timeout = self._settings.pool_idle_timeout
        if not timeout:
            return 0
        now = time.monotonic() if now is None else now
        evicted = 0
        for pool in self._pools:
            if (
                pool.is_idle
                and not self.pending[pool.id]
                and now - pool.last_activity > timeout
            ):
                sessions = list(pool)
                pool.close()
                for session in sessions:
                    pool.retire(session, RetireReason.EVICTED)
                self._pools.remove(pool)
                self._stats.increment_evicted()
                evicted += 1
                logger.debug(
                    "Evicted session pool %s, idle for %.0f s, with %d session(s)",
                    pool.id,
                    now - pool.last_activity,
                    len(sessions),
                    extra={"spider": self._crawler.spider, "pool": pool.id},
                )
        return evicted

    def restored_sessions(self, pool: Pool) -> list[Session]:
        """Return the saved sessions of *pool* that are still within limits;
        give *pool* the limits it had learned."""
        learned = self._saved_learned.pop((pool.kind, pool.id), None)
        if learned is not None:
            self._learning.restore(pool, learned)
        saved = self._saved.pop((pool.kind, pool.id), [])
        now, elapsed = time.monotonic(), max(0.0, time.time() - self._saved_at)
        sessions = []
        for item in saved:
            session = load_session(item, pool, elapsed, now)
            if session is None:
                continue
            self._backends[pool.kind].start(session, item.get("cookies") or ())
            sessions.append(session)
        if saved:
            logger.info(
                "Restored %d of %d saved session(s) of pool %s",
                len(sessions),
                len(saved),
                pool.id,
                extra={"spider": self._crawler.spider, "pool": pool.id},
            )
        return sessions
