"""ParkingLot: requests that wait for a session outside Scrapy's downloader.

A request waiting for a session inside a downloader middleware counts
towards :setting:`CONCURRENT_REQUESTS`: once enough requests of a slow pool
wait there, Scrapy takes no more requests from its scheduler, and every
pool runs at the slow pool's pace. A request that has not got its session
after a short while (:setting:`ZYTE_API_SESSION_PARK_AFTER`), from a pool
that has live sessions, is parked instead (a request of a pool with no live
session waits for an initialization, which may fail and stop the crawl: it
stays in progress, so that its errback gets that error):

#.  Its wait for a session goes on in the background, unchanged: the same
    place in its pool's line, the same wait budget.
#.  It leaves the downloader: the middleware returns it, and the engine
    hands it to :meth:`ParkingLot.on_scheduled`, which keeps it out of the
    scheduler. Its downloader slot is free for requests of other pools.
#.  Once it has its session (or an error, e.g.
    :exc:`~scrapy_session_pools.SessionWaitTimeout`), it is handed back to
    the engine with :meth:`ExecutionEngine.crawl`, with the highest
    priority and ``dont_filter`` (both restored when it comes back), so
    that it reaches the downloader next and its session waits for it as
    little as possible.
#.  Back in the middleware, it takes its session (or raises its error).

While requests are parked, the spider stays open. A close drops them, like
the requests still in the scheduler, and the log says how many.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scrapy.exceptions import DontCloseSpider, IgnoreRequest

from . import meta
from .stats import USE_PARKED

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from scrapy import Request
    from scrapy.crawler import Crawler

    from .pool import Pool
    from .session import Session
    from .stats import SessionStats

logger = logging.getLogger(__name__)

#: The priority of a request handed back to the engine: ahead of the rest.
BACK_PRIORITY = 2**31


class Parked(Exception):  # not an error: a signal to the caller
    """The request left the downloader; the middleware must return it."""


@dataclass(slots=True, eq=False)
class _Spot:
    request: Request
    pool: Pool
    task: asyncio.Task[Session]
    #: Handed back to the engine (it is in the scheduler, or on its way).
    is_back: bool = False


class ParkingLot:
    """The parked requests of a crawl, by the token in their meta.

    *after* is how long a request may wait for its session inside the
    downloader before it is parked (``None``: never). *on_ready* is called
    with the request, its pool and its session as soon as the session is
    its, before the request is handed back (the manager gives it its lease
    then, so that the session is given back whatever happens to the
    request on its way).
    """

    def __init__(
        self,
        crawler: Crawler,
        session_stats: SessionStats,
        *,
        after: float | None,
        on_ready: Callable[[Request, Pool, Session], object],
    ) -> None:
        self._crawler = crawler
        self._stats = session_stats
        self._after = after
        self._on_ready = on_ready
        self._spots: dict[str, _Spot] = {}
        self._tokens = itertools.count()
        self._is_closed = False

    def __len__(self) -> int:
        return len(self._spots)

    async def acquire(
        self,
        request: Request,
        pool: Pool,
        acquire: Callable[[], Awaitable[Session]],
        acquire_now: Callable[[], Session | None],
    ) -> tuple[Pool, Session]:
        """Return the pool and session of *request*, from *acquire_now* if it
        has one ready, else from *acquire*.

        Raises :exc:`Parked` if *acquire* takes longer than *after*: the
        request must leave the downloader, and comes back with its session.
        """
        spot = self._back(request)
        if spot is not None:
            if spot.task.cancelled():
                raise IgnoreRequest(f"Session pool {spot.pool.id} closed")
            return spot.pool, spot.task.result()  # or raise its error
        session = acquire_now()
        if session is not None:  # no wait: no task, no timer
            return pool, session
        if self._after is None:  # parking off: no task on the request path
            return pool, await acquire()
        task = asyncio.ensure_future(acquire())
        try:
            await asyncio.wait({task}, timeout=self._after)
        except BaseException:
            task.cancel()
            raise
        if not task.done() and not len(pool):
            # No live session: it waits for an init, which may fail and stop
            # the crawl; the request must be in progress to get that error.
            return pool, await task
        if task.done():
            return pool, task.result()
        self._park(request, pool, task)
        raise Parked

    def _park(self, request: Request, pool: Pool, task: asyncio.Task[Session]) -> None:
        token = str(next(self._tokens))
        self._spots[token] = _Spot(request, pool, task)
        request.meta[meta.PARKED_META_KEY] = token
        request.meta[meta.LEAVING_META_KEY] = True
        self._stats.increment(USE_PARKED, pool.id)
        logger.debug(
            "Request %s waits for a session of pool %s outside the downloader",
            request,
            pool.id,
            extra={"spider": self._crawler.spider, "pool": pool.id},
        )
        task.add_done_callback(lambda _: self._hand_back(token))

    def on_scheduled(self, request: Request) -> None:
        """Keep a request that is being parked out of the scheduler.

        Connected to :data:`~scrapy.signals.request_scheduled`, whose
        handlers may drop a request by raising
        :exc:`~scrapy.exceptions.IgnoreRequest` (not logged, no errback).
        """
        if request.meta.pop(meta.LEAVING_META_KEY, False):
            raise IgnoreRequest("Parked until its session is ready")

    def on_idle(self) -> None:
        """Keep the spider open while requests are parked."""
        if self._spots:
            raise DontCloseSpider

    def _hand_back(self, token: str) -> None:
        spot = self._spots.get(token)
        if spot is None or self._is_closed:
            return
        request = spot.request
        if not spot.task.cancelled() and spot.task.exception() is None:
            self._on_ready(request, spot.pool, spot.task.result())
        engine = self._crawler.engine
        if engine is None or engine.spider is None:
            return
        spot.is_back = True
        request.meta[meta.BACK_META_KEY] = (request.priority, request.dont_filter)
        request.priority = BACK_PRIORITY
        request.dont_filter = True  # its fingerprint was seen: it was scheduled
        engine.crawl(request)

    def _back(self, request: Request) -> _Spot | None:
        """Return the spot of *request* if it comes back from parking."""
        token = request.meta.pop(meta.PARKED_META_KEY, None)
        back = request.meta.pop(meta.BACK_META_KEY, None)
        if back is not None:
            request.priority, request.dont_filter = back
        spot = self._spots.pop(str(token), None) if token is not None else None
        if spot is not None and not spot.task.done():
            spot.task.cancel()  # back too early: it waits again, inside
            return None
        return spot  # None if unknown, e.g. from a previous run of the job

    def close(self) -> None:
        """Drop the parked requests (the crawl is over); log how many."""
        self._is_closed = True
        waiting = sum(not spot.is_back for spot in self._spots.values())
        if waiting:
            logger.info(
                "The crawl closed with %d request(s) waiting for a session "
                "outside the downloader; they are dropped, like the requests "
                "in the scheduler.",
                waiting,
                extra={"spider": self._crawler.spider},
            )
        for spot in self._spots.values():
            spot.task.cancel()
        self._spots.clear()
