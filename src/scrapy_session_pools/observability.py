"""PoolsObserver: signals, retirement stats, gauges and logs of the pools."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from typing import TYPE_CHECKING

from . import signals, stats
from .snapshots import SessionInfo
from .tasks import start_background
from .transport_watch import TransportWatch, silence_limit

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from scrapy import Request
    from scrapy.crawler import Crawler

    from .lifetimes import PoolLearning
    from .pool import Pool
    from .session import RetireReason, Session
    from .stats import SessionStats

logger = logging.getLogger(__name__)

_SAMPLE_SIZE = 2048


class _Summary:
    """Count, total and maximum of a series of numbers."""

    __slots__ = ("count", "maximum", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.maximum = 0.0

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.maximum = max(self.maximum, value)

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0


class _Reservoir:
    """A uniform random sample of bounded size, for percentiles."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._seen = 0
        self.values: list[float] = []

    def add(self, value: float) -> None:
        self._seen += 1
        if len(self.values) < self._size:
            self.values.append(value)
            return
        index = random.randrange(self._seen)  # noqa: S311
        if index < self._size:
            self.values[index] = value

    def percentile(self, fraction: float) -> float:
        if not self.values:
            return 0.0
        ordered = sorted(self.values)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class PoolsObserver:
    """Hears every pool event; sends signals, counts stats, logs.

    *pools* returns the pools of the crawl, for totals. With a *log_interval*
    (seconds), :meth:`start` logs a summary line at that interval.
    """

    def __init__(
        self,
        crawler: Crawler,
        session_stats: SessionStats,
        pools: Callable[[], Iterable[Pool]],
        *,
        log_interval: float | None,
        learning: PoolLearning,
    ) -> None:
        self._crawler = crawler
        self._stats = session_stats
        self._learning = learning
        self._pools = pools
        self._log_interval = log_interval
        self._task: asyncio.Task[None] | None = None
        self._live = 0
        self._peak_live = 0
        self._waiting = 0
        self._peak_waiting = 0
        self._waits = _Summary()
        self._wait_sample = _Reservoir(_SAMPLE_SIZE)
        self._uses = _Summary()
        self._lifetimes = _Summary()
        self._transport = TransportWatch(
            crawler, session_stats, pools, silence_limit=silence_limit(crawler)
        )

    def _send(self, signal: object, **kwargs: object) -> None:
        self._crawler.signals.send_catch_log(signal=signal, **kwargs)

    def session_added(self, pool: Pool, session: Session) -> None:
        """Count a new session and send :data:`signals.session_created`."""
        self._learning.pool_started(pool)
        self._live += 1
        self._peak_live = max(self._peak_live, self._live)
        self._send(
            signals.session_created, pool=pool.id, session=SessionInfo.of(session, pool)
        )

    def session_retired(
        self, pool: Pool, session: Session, reason: RetireReason
    ) -> None:
        """Count why *session* ended and send :data:`signals.session_retired`."""
        self._live -= 1
        self._stats.increment_retired(reason.value, pool.id)
        self._learning.session_ended(pool, session, reason)
        info = SessionInfo.of(session, pool)
        self._uses.add(info.uses)
        self._lifetimes.add(info.age)
        logger.debug(
            "Retired session %s of pool %s (%s) after %d use(s)",
            session.id,
            pool.id,
            reason.value,
            session.uses,
            extra={"spider": self._crawler.spider, "pool": pool.id},
        )
        self._send(
            signals.session_retired, pool=pool.id, session=info, reason=reason.value
        )

    def request_waiting(self, pool: Pool, request: Request) -> None:
        """Track the peak of waiting requests; send :data:`signals.pool_exhausted`."""
        self._waiting += 1
        self._peak_waiting = max(self._peak_waiting, self._waiting)
        self._transport.request_waiting(pool, request)
        self._send(signals.pool_exhausted, pool=pool.id, waiting=pool.waiting)

    def request_stopped_waiting(self, pool: Pool, request: Request) -> None:
        """Count a request that no longer waits."""
        self._waiting -= 1
        self._transport.request_stopped_waiting(request)

    def request_served(self, pool: Pool, request: Request, waited: float) -> None:
        """Record how long *request* waited for its session."""
        self._waits.add(waited)
        self._wait_sample.add(waited)

    def request_timed_out(self, pool: Pool, request: Request) -> None:
        """Send :data:`signals.session_wait_timeout`."""
        self._send(signals.session_wait_timeout, pool=pool.id, request=request)

    def start(self) -> None:
        """Start watching the transport, and the periodic log line if set."""
        self._transport.start()
        if self._log_interval and self._task is None:
            self._task = start_background(
                self._log_periodically(), "logging the session pools"
            )

    def stop(self) -> None:
        """Stop the periodic log, set the gauges and log the per-pool summary."""
        self._transport.stop()
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._set_gauges()
        self._log_summary()

    async def _log_periodically(self) -> None:
        assert self._log_interval
        while True:
            await asyncio.sleep(self._log_interval)
            self.log_line()

    def log_line(self) -> None:
        """Log one line with the current totals of all pools."""
        pools = list(self._pools())
        logger.info(
            "Session pools: %d pool(s), %d live session(s), %d request(s) "
            "waiting, %d initialization(s) in flight",
            len(pools),
            sum(len(p) for p in pools),
            sum(p.waiting for p in pools),
            sum(p.creating for p in pools),
            extra={"spider": self._crawler.spider},
        )

    def _set_gauges(self) -> None:
        for pool in self._pools():
            for session in pool:
                info = SessionInfo.of(session, pool)
                self._uses.add(info.uses)
                self._lifetimes.add(info.age)
        if not self._peak_live:
            return
        gauges = {
            stats.GAUGE_PEAK_LIVE: self._peak_live,
            stats.GAUGE_PEAK_WAITING: self._peak_waiting,
            stats.GAUGE_WAIT_MAX: round(self._waits.maximum, 3),
            stats.GAUGE_WAIT_P50: round(self._wait_sample.percentile(0.5), 3),
            stats.GAUGE_WAIT_P95: round(self._wait_sample.percentile(0.95), 3),
            stats.GAUGE_USES_MEAN: round(self._uses.mean, 2),
            stats.GAUGE_USES_MAX: self._uses.maximum,
            stats.GAUGE_LIFETIME_MEAN: round(self._lifetimes.mean, 3),
            stats.GAUGE_LIFETIME_MAX: round(self._lifetimes.maximum, 3),
        }
        for name, value in gauges.items():
            self._stats.set_gauge(name, value)

    def _log_summary(self) -> None:
        pools = sorted(self._pools(), key=lambda p: (p.id, p.kind))
        if not pools:
            return
        lines = [
            (
                f"{'pool':<30} {'kind':<8} {'created':>7} {'served':>7} "
                f"{'checks ok':>9} {'failed':>6}  retired; learned limits"
            )
        ]
        for pool in pools:
            retired = Counter({r.value: n for r, n in pool.counts.retired.items()})
            why = ", ".join(f"{n} {r}" for r, n in sorted(retired.items())) or "-"
            learned = pool.learned.to_json()
            if learned:
                why += "; " + ", ".join(f"{k} {v:.3g}" for k, v in learned.items())
            lines.append(
                f"{pool.id[:30]:<30} {pool.kind:<8} {pool.counts.created:>7} "
                f"{pool.counts.served:>7} {pool.counts.checks_passed:>9} "
                f"{pool.counts.checks_failed:>6}  {why}"
            )
        logger.info(
            "Session pools at close:\n%s",
            "\n".join(lines),
            extra={"spider": self._crawler.spider},
        )
