"""What a pool reports: its events (to stats, signals, gauges) and its counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from scrapy import Request

    from .pool import Pool
    from .session import RetireReason, Session


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
    #: Sessions that left the pool, by reason.
    retired: Counter[RetireReason] = field(default_factory=Counter)
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
