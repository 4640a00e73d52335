"""What a pool reports: its events (to stats, signals, gauges) and its counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scrapy import Request

    from .pool import Pool
    from .session import RetireReason, Session


_NOTHING_RETIRED: Mapping[RetireReason, int] = MappingProxyType({})


class PoolEvents(Protocol):
    """What a pool reports to its owner."""

    def session_added(self, pool: Pool, session: Session) -> None:
        """*session* joined *pool*."""

    def session_retired(
        self, pool: Pool, session: Session, reason: RetireReason
    ) -> None:
        """*session* left *pool* for *reason*."""

    def request_waiting(self, pool: Pool, request: Request) -> None:
        """*request* found no usable session and waits."""

    def request_stopped_waiting(self, pool: Pool, request: Request) -> None:
        """*request* stopped waiting: it got a session, timed out or failed."""

    def request_served(self, pool: Pool, request: Request, waited: float) -> None:
        """*request* got its session after waiting *waited* seconds."""

    def request_timed_out(self, pool: Pool, request: Request) -> None:
        """*request* waited too long for a session."""


@dataclass(slots=True, eq=False)
class PoolCounts:
    """What a pool did so far (its snapshots and close summary show them)."""

    #: Sessions that joined the pool.
    created: int = 0
    #: Sessions that left the pool, by reason (made at the first one).
    _retired: Counter[RetireReason] | None = None
    #: Consecutive failed initializations.
    bad_inits: int = 0
    #: Monotonic time before which no initialization starts (a rate limit).
    inits_paused_until: float = 0.0
    #: Requests sent with a session of the pool.
    served: int = 0
    #: Use checks passed.
    checks_passed: int = 0
    #: Use checks failed.
    checks_failed: int = 0

    @property
    def retired(self) -> Mapping[RetireReason, int]:
        """Sessions that left the pool, by reason."""
        return self._retired if self._retired is not None else _NOTHING_RETIRED

    def count_retired(self, reason: RetireReason) -> None:
        """Count one session that left the pool for *reason*."""
        if self._retired is None:
            self._retired = Counter()
        self._retired[reason] += 1
