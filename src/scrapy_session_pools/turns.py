"""TurnPicker: which session of a pool serves the next request, and when."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from .pool_options import PoolOptions
    from .session import Limits, RetireReason, Session

#: A booked turn: the session and the monotonic time at which it may start.
Slot = tuple["Session", float]


class TurnPicker:
    """Books turns on the sessions of a pool, soonest first.

    *sessions* are the live sessions of the pool (the pool's own dict, read
    here); *limits* (:attr:`limits`, which the pool updates) and *options*
    are the pool's; *sample_delay* gives the
    delay after a turn; *retire* retires a session past a limit; *renew*
    starts the replacement of a session that nears a limit.
    """

    def __init__(
        self,
        sessions: Mapping[str, Session],
        limits: Limits,
        options: PoolOptions,
        *,
        sample_delay: Callable[[], float],
        retire: Callable[[Session, RetireReason], object],
        renew: Callable[[Session, RetireReason], None],
    ) -> None:
        self._sessions = sessions
        self.limits = limits
        self._max_concurrency = options.max_concurrency
        self._sample_delay = sample_delay
        self._retire = retire
        self._renew = renew

    def book(self, now: float) -> Slot | None:
        """Book the soonest turn of a usable session, or return ``None``.

        Sessions past a limit retire. A session booked up to its limit keeps
        the turns it has and gets a replacement; it retires once it reaches
        the limit. Renewal follows the real age of a session, not the start
        of a turn booked for later.
        """
        for session in sorted(self._sessions.values(), key=lambda s: s.next_use):
            reason = session.limit_reached(now, self.limits)
            if reason is not None:
                self._retire(session, reason)
                continue
            if self._is_full(session):
                continue
            start = max(now, session.next_use)
            booked_out = session.turn_limit(start, self.limits)
            if booked_out is not None:
                self._renew(session, booked_out)
                continue
            renewal = session.renewal_due(now, self.limits)
            if renewal is not None:
                self._renew(session, renewal)
            session.in_flight += 1
            return session, session.reserve(now, self._sample_delay())
        return None

    def is_idle_now(self, now: float) -> bool:
        """Whether a session with no request in flight could serve one now."""
        return any(
            session.in_flight == 0
            and session.next_use <= now
            and session.limit_reached(now, self.limits) is None
            for session in self._sessions.values()
        )

    def has_turns_left(self, now: float) -> bool:
        """Whether a session can still be booked, now or later."""
        return any(
            session.turn_limit(max(now, session.next_use), self.limits) is None
            for session in self._sessions.values()
        )

    def _is_full(self, session: Session) -> bool:
        return (
            self._max_concurrency is not None
            and session.in_flight >= self._max_concurrency
        )
