"""Session stats: the only place where stat keys are spelled."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrapy.statscollectors import StatsCollector

    from .lifetimes import LearnedLimits
    from .pool import Pool

PREFIX = "sessions/"

INIT_CHECK_PASSED = "init/check-passed"
INIT_CHECK_FAILED = "init/check-failed"
INIT_CHECK_ERROR = "init/check-error"
INIT_PARAM_ERROR = "init/param-error"
INIT_FAILED = "init/failed"
INIT_OVER_LIMIT = "init/over-limit"
INIT_SERVER_ERROR = "init/server-error"
INIT_RATE_LIMITED = "init/rate-limited"
USE_CHECK_PASSED = "use/check-passed"
USE_CHECK_FAILED = "use/check-failed"
USE_CHECK_ERROR = "use/check-error"
USE_FAILED = "use/failed"
USE_EXPIRED = "use/expired"
USE_DISABLED = "use/disabled"
POOL_ERROR = "pool-error"
USE_BLOCKED = "use/blocked"
USE_RATE_LIMITED = "use/rate-limited"
#: Prefix of the stats counting retired sessions by reason.
RETIRED = "retired/"
USE_PIN_LOST = "use/pinned-session-lost"
#: A request retried without counting against RETRY_TIMES: its session had
#: already retired when its response (or error) came back.
USE_LATE_RETRY = "use/late-retry"
#: A request left the downloader to wait for its session (see parking.py).
USE_PARKED = "use/parked"
POOLS_EVICTED = "pools-evicted"
#: Limits learned by a pool (always per pool: see lifetimes.py).
LEARNED_MAX_USES = "learned/max-uses"
LEARNED_MAX_AGE = "learned/max-age"
#: A pool found blocked on a silent transport (once per silence).
TRANSPORT_BLOCKED = "transport-blocked"

#: Gauges, set when the spider closes (never per pool).
GAUGE_PEAK_LIVE = "gauges/peak-live-sessions"
GAUGE_PEAK_WAITING = "gauges/peak-waiting-requests"
GAUGE_WAIT_MAX = "gauges/wait-seconds/max"
GAUGE_WAIT_P50 = "gauges/wait-seconds/p50"
GAUGE_WAIT_P95 = "gauges/wait-seconds/p95"
GAUGE_USES_MEAN = "gauges/session-uses/mean"
GAUGE_USES_MAX = "gauges/session-uses/max"
GAUGE_LIFETIME_MEAN = "gauges/session-seconds/mean"
GAUGE_LIFETIME_MAX = "gauges/session-seconds/max"


class SessionStats:
    """Increments session stats, per pool when *per_pool* is true.

    Stat names are the constants of this module; with *per_pool* the key of
    ``init/check-passed`` for pool ``example.com`` is
    ``sessions/pools/example.com/init/check-passed``, otherwise
    ``sessions/init/check-passed``.
    """

    def __init__(self, stats: StatsCollector, *, per_pool: bool) -> None:
        self._stats = stats
        self._per_pool = per_pool

    def key(self, name: str, pool_id: str | None = None) -> str:
        """Return the full stat key of *name* for the pool *pool_id*."""
        if self._per_pool and pool_id is not None:
            return f"{PREFIX}pools/{pool_id}/{name}"
        return f"{PREFIX}{name}"

    def increment(self, name: str, pool_id: str | None = None) -> None:
        """Add one to the stat *name* of the pool *pool_id*."""
        self._stats.inc_value(self.key(name, pool_id))

    def increment_retired(self, reason: str, pool_id: str) -> None:
        """Count a session of the pool *pool_id* retired for *reason*."""
        self._stats.inc_value(self.key(f"{RETIRED}{reason}", pool_id))

    def set_gauge(self, name: str, value: float) -> None:
        """Set the gauge *name* (a ``GAUGE_*`` constant) to *value*."""
        self._stats.set_value(self.key(name), value)

    def set_learned(self, pool: Pool, learned: LearnedLimits) -> None:
        """Set the limits learned by *pool* (per pool, whatever the setting)."""
        for name, value in (
            (LEARNED_MAX_USES, learned.max_uses),
            (LEARNED_MAX_AGE, learned.max_age),
        ):
            if value is not None:
                self._stats.set_value(f"{PREFIX}pools/{pool.id}/{name}", value)

    def increment_evicted(self) -> None:
        """Count a pool evicted because it stayed idle."""
        self._stats.inc_value(self.key(POOLS_EVICTED))

    def increment_disabled(self) -> None:
        """Count a request that reached the middleware with sessions disabled."""
        self._stats.inc_value(self.key(USE_DISABLED))

    def increment_pool_error(self) -> None:
        """Count a request whose pool could not be determined."""
        self._stats.inc_value(self.key(POOL_ERROR))
