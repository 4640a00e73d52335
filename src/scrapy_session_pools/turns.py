"""Turns: which session of a pool serves the next request, and when.

Functions of a pool's state rather than an object of the pool, so that a
pool holds no helper that points back at it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .pool_options import PoolOptions
    from .session import Limits, RetireReason, Session

#: A booked turn: the session and the monotonic time at which it may start.
Slot = tuple["Session", float]


class TurnOwner(Protocol):
    """What the turn functions read and call on a pool."""

    limits: Limits
    options: PoolOptions

    def live_sessions(self) -> Iterable[Session]:
        """The live sessions of the pool."""

    def sample_delay(self) -> float:
        """The delay after a turn."""

    def retire(self, session: Session, reason: RetireReason) -> bool:
        """Retire *session*, which passed a limit."""

    def renew(self, session: Session, reason: RetireReason) -> None:
        """Start the replacement of *session*, which nears *reason*."""


def book(owner: TurnOwner, now: float, latest: float | None = None) -> Slot | None:
    """Book the soonest turn of a usable session of *owner*, or return ``None``.

    With *latest*, only a turn that starts by then is booked. Sessions past a
    limit retire. A session booked up to its limit keeps the
    turns it has and gets a replacement; it retires once it reaches the
    limit. Renewal follows the real age of a session, not the start of a
    turn booked for later.
    """
    limits = owner.limits
    max_concurrency = owner.options.max_concurrency
    # Soonest turn first; among sessions free now, the least busy, then the
    # most used: sessions reach their uses limit before their age limit.
    for session in sorted(
        owner.live_sessions(),
        key=lambda s: (max(s.next_use, now), s.in_flight, -s.uses),
    ):
        reason = session.limit_reached(now, limits)
        if reason is not None:
            owner.retire(session, reason)
            continue
        if max_concurrency is not None and session.in_flight >= max_concurrency:
            continue
        start = max(now, session.next_use)
        if latest is not None and start > latest:
            return None  # sorted by start: no later session is sooner
        booked_out = session.turn_limit(start, limits)
        if booked_out is not None:
            owner.renew(session, booked_out)
            continue
        renewal = session.renewal_due(now, limits)
        if renewal is not None:
            owner.renew(session, renewal)
        session.in_flight += 1
        return session, session.reserve(now, owner.sample_delay())
    return None


def is_idle_now(owner: TurnOwner, now: float) -> bool:
    """Whether a session with no request in flight could serve one now."""
    return any(
        session.in_flight == 0
        and session.next_use <= now
        and session.limit_reached(now, owner.limits) is None
        for session in owner.live_sessions()
    )


def has_turns_left(owner: TurnOwner, now: float) -> bool:
    """Whether a session can still be booked, now or later."""
    return any(
        session.turn_limit(max(now, session.next_use), owner.limits) is None
        for session in owner.live_sessions()
    )
