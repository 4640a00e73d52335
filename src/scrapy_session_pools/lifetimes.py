"""LifetimeLearner: the limits at which a pool's sessions end, learned.

Websites and Zyte API end sessions at limits that users rarely know in
advance: a ban after so many requests, an expiry after so many seconds.
Each pool learns them from the endings of its own sessions:

-   A session banned (blocked, or retired for errors or failed checks) or
    expired after *n* good uses is evidence of a uses limit of *n*.
-   A session that expired (``/problem/session-expired``) between its last
    good use, at age *a*, and its death, at age *d*, is evidence of an age
    limit between *a* and *d*.

Random failures spread; a limit clusters. Once :data:`MIN_ENDINGS` of the
last :data:`WINDOW` endings of a kind, and two thirds of them, agree
(uses within :data:`USES_SPREAD`, death ages within :data:`AGE_SPREAD` of
each other), the pool retires its sessions at the learned limit (renewing
them a little before, in the background, as with any limit): at *n* uses,
or at the latest good age of the cluster. The lowest such cluster wins.
Once a limit is learned, the evidence for it is forgotten: sessions now
retire before it, so what ends them later are random failures, which
rarely agree by two thirds (a few random bans at low counts would otherwise
teach a much lower limit), or a stricter limit, learned again after
:data:`MIN_ENDINGS` endings. Limits set by the user always win over
learned ones.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections import deque
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .session import RetireReason

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .pool import Pool
    from .pool_options import PoolOptions
    from .session import Limits, Session

logger = logging.getLogger(__name__)

#: Endings of a kind that must agree before a limit is learned.
MIN_ENDINGS = 5
#: Endings of each kind that a pool remembers, the latest ones.
WINDOW = 12
#: Uses at a ban that agree: within this many of the lowest.
USES_SPREAD = 1
#: Death ages at an expiry that agree: within this fraction of the lowest.
AGE_SPREAD = 0.2

#: Endings that are evidence of a uses limit.
BANS = frozenset(
    {RetireReason.BLOCKED, RetireReason.ERRORS, RetireReason.CHECK_FAILURES}
)


@dataclass(frozen=True, slots=True)
class LearnedLimits:
    """The limits learned so far (``None``: not learned)."""

    max_uses: int | None = None
    max_age: float | None = None

    def applied_to(self, limits: Limits, options: PoolOptions) -> Limits:
        """Return *limits* with the learned ones, where no setting gives one.

        A learned limit replaces a default one (e.g. the 14 minutes of Zyte
        API sessions) only if it is lower.
        """
        max_uses, max_age = limits.max_uses, limits.max_age
        if options.max_uses is None and self.max_uses is not None:
            max_uses = min(max_uses or self.max_uses, self.max_uses)
        if options.max_age is None and self.max_age is not None:
            max_age = min(max_age or self.max_age, self.max_age)
        return replace(limits, max_uses=max_uses, max_age=max_age)

    def to_json(self) -> dict[str, float]:
        """Return the learned limits as a JSON object (persistence, stats)."""
        learned = {"max_uses": self.max_uses, "max_age": self.max_age}
        return {key: value for key, value in learned.items() if value is not None}


#: Nothing learned yet (shared by every pool that learned nothing).
NOTHING_LEARNED = LearnedLimits()


class LifetimeLearner:
    """Learns the limits of the sessions of one pool from their endings.

    *on_change* is called with the new :class:`LearnedLimits` whenever they
    change.
    """

    def __init__(
        self, pool_id: str, on_change: Callable[[LearnedLimits], None]
    ) -> None:
        self._pool_id = pool_id
        self._on_change = on_change
        self._bans: deque[int] = deque(maxlen=WINDOW)
        self._expiries: deque[tuple[float, float]] = deque(maxlen=WINDOW)
        self.learned = NOTHING_LEARNED

    def restore(self, learned: LearnedLimits) -> None:
        """Start with limits learned by a previous run (persistence)."""
        if learned != self.learned:
            self.learned = learned
            self._on_change(learned)

    def session_ended(self, session: Session, reason: RetireReason, now: float) -> None:
        """Learn from the end of *session*, retired for *reason* at *now*."""
        if reason not in BANS and reason is not RetireReason.EXPIRED:
            return
        if session.good_uses:
            self._bans.append(session.good_uses)
        if reason is RetireReason.EXPIRED and session.last_good:
            age = now - session.created_at
            self._expiries.append((session.last_good - session.created_at, age))
        learned = LearnedLimits(
            max_uses=_uses_limit(self._bans) or self.learned.max_uses,
            max_age=_age_limit(self._expiries) or self.learned.max_age,
        )
        if learned != self.learned:
            self._log(learned)
            if learned.max_uses != self.learned.max_uses:
                self._bans.clear()
            if learned.max_age != self.learned.max_age:
                self._expiries.clear()
            self.learned = learned
            self._on_change(learned)

    def _log(self, learned: LearnedLimits) -> None:
        if learned.max_uses != self.learned.max_uses:
            logger.info(
                "Session pool %s learned that its sessions end after %d good "
                "uses (%d of its last %d bans or expiries); its sessions now "
                "retire at %d uses.",
                self._pool_id,
                learned.max_uses,
                _cluster_size(self._bans, learned.max_uses),
                len(self._bans),
                learned.max_uses,
                extra={"pool": self._pool_id},
            )
        if learned.max_age != self.learned.max_age and learned.max_age is not None:
            deaths = sorted(age for _, age in self._expiries)
            logger.info(
                "Session pool %s learned that its sessions expire at %.3g-%.3g s "
                "of age; its sessions now retire at %.3g s.",
                self._pool_id,
                deaths[0],
                deaths[-1],
                learned.max_age,
                extra={"pool": self._pool_id},
            )


def _cluster_size(values: Sequence[int], low: int | None) -> int:
    if low is None:
        return 0
    return sum(1 for value in values if low <= value <= low + USES_SPREAD)


def _agree(cluster: int, endings: int) -> bool:
    """Whether *cluster* of *endings* agreeing endings make a limit."""
    return cluster >= MIN_ENDINGS and 3 * cluster >= 2 * endings


def _uses_limit(bans: Sequence[int]) -> int | None:
    """Return the lowest use count at which enough bans agree."""
    for low in sorted(set(bans)):
        if _agree(_cluster_size(bans, low), len(bans)):
            return low
    return None


def _age_limit(expiries: Sequence[tuple[float, float]]) -> float | None:
    """Return the latest good age of the lowest cluster of agreeing deaths."""
    for _, death in sorted(expiries, key=lambda pair: pair[1]):
        cluster = [
            good for good, age in expiries if death <= age <= death * (1 + AGE_SPREAD)
        ]
        if _agree(len(cluster), len(expiries)):
            return max(cluster)
    return None


class PoolLearning:
    """The :class:`LifetimeLearner` of each pool that saw a ban or an expiry.

    Learned limits outlive their pool: a pool created again (e.g. after
    eviction) starts with them. *on_change* is told about each change, e.g.
    to set stats.
    """

    def __init__(
        self, *, enabled: bool, on_change: Callable[[Pool, LearnedLimits], None]
    ) -> None:
        self._enabled = enabled
        self._on_change = on_change
        self._learners: dict[tuple[str, str], LifetimeLearner] = {}
        #: The live pool of each key (a pool evicted and created again is new).
        self._pools: dict[tuple[str, str], weakref.ref[Pool]] = {}

    def learned(self, pool: Pool) -> LearnedLimits:
        """Return the limits learned so far for *pool*."""
        learner = self._learners.get((pool.kind.value, pool.id))
        return learner.learned if learner is not None else NOTHING_LEARNED

    def pool_started(self, pool: Pool) -> None:
        """Give a new *pool* what an earlier pool of the same ID learned."""
        learned = self.learned(pool)
        if learned != pool.learned:
            self._pools[pool.kind.value, pool.id] = weakref.ref(pool)
            pool.learn(learned)

    def restore(self, pool: Pool, learned: LearnedLimits) -> None:
        """Start *pool* with limits learned by a previous run."""
        if self._enabled and learned != NOTHING_LEARNED:
            self._learner(pool).restore(learned)

    def session_ended(self, pool: Pool, session: Session, reason: RetireReason) -> None:
        """Learn from *session* of *pool*, retired for *reason*."""
        if self._enabled and (reason in BANS or reason is RetireReason.EXPIRED):
            self._learner(pool).session_ended(session, reason, time.monotonic())

    def _learner(self, pool: Pool) -> LifetimeLearner:
        key = (pool.kind.value, pool.id)
        self._pools[key] = weakref.ref(pool)
        learner = self._learners.get(key)
        if learner is None:
            learner = self._learners[key] = LifetimeLearner(
                pool.id, lambda learned: self._changed(key, learned)
            )
        return learner

    def _changed(self, key: tuple[str, str], learned: LearnedLimits) -> None:
        ref = self._pools.get(key)
        pool = ref() if ref is not None else None
        if pool is not None:
            pool.learn(learned)
            self._on_change(pool, learned)
