"""TransportWatch: warns while session work waits for a silent transport."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from scrapy import signals

from . import meta
from .errors import troubleshooting_link
from .stats import TRANSPORT_BLOCKED

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from scrapy import Request
    from scrapy.crawler import Crawler

    from .pool import Pool
    from .stats import SessionStats

logger = logging.getLogger(__name__)

#: The longest the transport may stay silent before the first warning, if
#: DOWNLOAD_TIMEOUT is longer. scrapy-zyte-api does not apply
#: DOWNLOAD_TIMEOUT: python-zyte-api waits up to 320 s per attempt and
#: retries network errors for 15 minutes.
MAX_SILENCE = 30.0
#: At most one warning per pool per this many seconds while it lasts.
REPEAT_INTERVAL = 60.0
#: While session work waits on downloads, how often the watch looks at the
#: transport and the engine. Scrapy sends no signal when the spider starts
#: closing (SIGTERM, CLOSESPIDER_TIMEOUT), only once every download ended.
CHECK_INTERVAL = 2.0

_TRANSPORTS = {"zyte_api": "Zyte API", "http": "the website"}


def silence_limit(crawler: Crawler) -> float:
    """Seconds of silence of the transport after which the watch warns.

    That is DOWNLOAD_TIMEOUT, at most :data:`MAX_SILENCE`.
    """
    # DOWNLOAD_TIMEOUT is Scrapy's setting (Scrapy validates it), not ours.
    timeout = crawler.settings.getfloat("DOWNLOAD_TIMEOUT", MAX_SILENCE)
    return min(timeout, MAX_SILENCE) if timeout > 0 else MAX_SILENCE


class TransportWatch:
    """Logs while session work is blocked on a transport that does not answer.

    The transport (scrapy-zyte-api's download handler, or the website) is
    silent when downloads are in flight and no response has been downloaded
    for *silence_limit* seconds (errors, e.g. retries given up on, do not
    count as answers). While it is silent and a pool
    of *pools* has session initializations in flight or requests waiting
    for a session, one WARNING per such pool says so, repeated at most every
    :data:`REPEAT_INTERVAL` seconds, and the ``transport-blocked`` stat of
    the pool counts one; an INFO line says when the transport answers again.

    When the engine is closing while the transport is silent and session
    work waits on it, the watch closes *pools*, which cancels their
    initializations and releases the requests that wait for a session, so
    that the close does not wait for the transport. With a transport that
    answers, a close lets waiting requests finish.
    """

    def __init__(
        self,
        crawler: Crawler,
        session_stats: SessionStats,
        pools: Callable[[], Iterable[Pool]],
        *,
        silence_limit: float,
    ) -> None:
        self._crawler = crawler
        self._stats = session_stats
        self._pools = pools
        self._silence_limit = silence_limit
        self._in_flight: WeakKeyDictionary[Request, float] = WeakKeyDictionary()
        self._last_answer = time.monotonic()
        #: The pool that each request waits for, and since when.
        self._waiting_since: WeakKeyDictionary[Request, tuple[str, float]] = (
            WeakKeyDictionary()
        )
        #: When each pool was last warned about, while the silence lasts.
        self._warned: dict[str, float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._is_running = False

    def _subscriptions(self) -> tuple[tuple[Callable[..., None], object], ...]:
        return (
            (self._reached, signals.request_reached_downloader),
            (self._left, signals.request_left_downloader),
            (self._answered, signals.response_downloaded),
        )

    def start(self) -> None:
        """Start following downloads."""
        if self._is_running:
            return
        self._is_running = True
        for handler, signal in self._subscriptions():
            self._crawler.signals.connect(handler, signal=signal)

    def stop(self) -> None:
        """Stop following downloads (the crawl is over)."""
        if not self._is_running:
            return
        self._is_running = False
        for handler, signal in self._subscriptions():
            self._crawler.signals.disconnect(handler, signal=signal)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def request_waiting(self, pool: Pool, request: Request) -> None:
        """Note that *request* waits for a session of *pool*."""
        self._waiting_since[request] = (pool.id, time.monotonic())
        self._arm()

    def request_stopped_waiting(self, request: Request) -> None:
        """Note that *request* no longer waits for a session."""
        self._waiting_since.pop(request, None)

    def _reached(self, request: Request) -> None:
        self._in_flight[request] = time.monotonic()
        self._arm()

    def _left(self, request: Request) -> None:
        self._in_flight.pop(request, None)

    def _answered(self) -> None:
        now = time.monotonic()
        if self._warned:
            logger.info(
                "The transport answers again: a response came after %.0f s "
                "without any; session work goes on.",
                now - self._last_answer,
                extra={"spider": self._crawler.spider},
            )
            self._warned.clear()
        self._last_answer = now

    def _arm(self) -> None:
        if self._timer is None and self._is_running:
            delay = min(self._silence_limit, CHECK_INTERVAL)
            self._timer = asyncio.get_running_loop().call_later(delay, self._check)

    def _check(self) -> None:
        self._timer = None
        if not self._in_flight:
            return  # the next download re-arms
        in_flight = Counter(
            request.meta.get(meta.POOL_META_KEY) for request in self._in_flight
        )
        blocked = [
            pool
            for pool in self._pools()
            if pool.waiting or pool.creating or in_flight[pool.id]
        ]
        if not blocked:
            return  # nothing waits on the transport; the next event re-arms
        now = time.monotonic()
        silence = now - max(self._last_answer, min(self._in_flight.values()))
        if silence >= self._silence_limit and _engine_is_closing(self._crawler):
            # Only a silent transport: a healthy one lets waiting requests
            # finish, so that a graceful stop loses none of them.
            self._stop_session_work(blocked)
            return
        if silence >= self._silence_limit:
            for pool in blocked:
                warned_at = self._warned.get(pool.id)
                if warned_at is None:
                    self._stats.increment(TRANSPORT_BLOCKED, pool.id)
                if warned_at is None or now - warned_at >= REPEAT_INTERVAL:
                    self._warned[pool.id] = now
                    self._warn(pool, silence, now, in_flight[pool.id])
        self._arm()

    def _warn(self, pool: Pool, silence: float, now: float, in_flight: int) -> None:
        waits = [
            now - since
            for pool_id, since in self._waiting_since.values()
            if pool_id == pool.id
        ]
        logger.warning(
            "Session pool %s is blocked on the transport: no request got a "
            "response from %s for %.0f s; %d request(s) with a session and %d "
            "session initialization(s) of this pool in flight, %d request(s) "
            "waiting for a session (the longest for %.0f s). See %s",
            pool.id,
            _TRANSPORTS.get(pool.kind, pool.kind),
            silence,
            in_flight,
            pool.creating,
            pool.waiting,
            max(waits, default=0.0),
            troubleshooting_link("slow-transport"),
            extra={"spider": self._crawler.spider, "pool": pool.id},
        )

    def _stop_session_work(self, pools: list[Pool]) -> None:
        pools = [pool for pool in pools if pool.waiting or pool.creating]
        if not pools:
            return
        logger.info(
            "The spider is closing while session work waits for the transport: "
            "closing %d session pool(s), %d session initialization(s) "
            "cancelled, %d request(s) released.",
            len(pools),
            sum(pool.creating for pool in pools),
            sum(pool.waiting for pool in pools),
            extra={"spider": self._crawler.spider},
        )
        for pool in pools:
            pool.close()


def _engine_is_closing(crawler: Crawler) -> bool:
    """Whether the crawl is stopping: SIGTERM, or a close by any component."""
    engine = crawler.engine
    if not crawler.crawling or engine is None or not engine.running:
        return True
    # Scrapy has no public flag for a close_spider_async() under way.
    slot = getattr(engine, "_slot", None)
    return slot is not None and getattr(slot, "closing", None) is not None
