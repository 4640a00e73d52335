"""AgeLimits: timers that retire sessions when they reach their maximum age."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from .session import Session


class AgeLimits:
    """Retires each session of a pool at its maximum age, used or not.

    *max_age* is the maximum age in seconds (``None``: no timer);
    *retire* is called with a session that reached it.
    """

    def __init__(
        self, max_age: float | None, retire: Callable[[Session], object]
    ) -> None:
        self._max_age = max_age
        self._retire = retire
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def watch(self, session: Session) -> None:
        """Start the timer of *session*, which joined its pool."""
        if self._max_age is None:
            return
        delay = session.created_at + self._max_age - time.monotonic()
        self._timers[session.id] = asyncio.get_running_loop().call_later(
            max(0.0, delay), self._expire, session
        )

    def set_max_age(self, max_age: float | None, sessions: Iterable[Session]) -> None:
        """Use *max_age* from now on, for *sessions* too (a learned limit)."""
        self.stop()
        self._max_age = max_age
        for session in sessions:
            self.watch(session)

    def forget(self, session: Session) -> None:
        """Stop the timer of *session*, which left its pool."""
        timer = self._timers.pop(session.id, None)
        if timer is not None:
            timer.cancel()

    def stop(self) -> None:
        """Stop every timer (the pool closes)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def _expire(self, session: Session) -> None:
        self._timers.pop(session.id, None)
        if session.is_alive:
            self._retire(session)
