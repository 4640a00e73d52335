"""AgeTimer: one timer per pool that retires sessions at their maximum age."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from .session import Session


class AgeTimer:
    """Retires the sessions of a pool when they reach their maximum age.

    One timer serves the whole pool: it fires when its oldest session
    reaches the age limit, the pool retires every session that reached it,
    and :meth:`arm` sets the timer for the next one. A pool with no session
    or no age limit keeps no timer.
    """

    __slots__ = ("_handle",)

    def __init__(self) -> None:
        self._handle: asyncio.TimerHandle | None = None

    def arm(
        self,
        max_age: float | None,
        horizon: float | None,
        sessions: Iterable[Session],
        expire: Callable[[], None],
    ) -> None:
        """Call *expire* when the oldest of *sessions* reaches *max_age*.

        No timer is kept for an age limit of *horizon* or more (``None``:
        any limit gets one).
        """
        if max_age is None or (horizon is not None and max_age >= horizon):
            self.cancel()
            return
        due = min((s.created_at for s in sessions), default=None)
        if due is None:
            self.cancel()
            return
        when = due + max_age
        handle = self._handle
        if handle is not None and not handle.cancelled() and handle.when() <= when:
            return  # fires no later than needed; it re-arms then
        self.cancel()
        self._handle = asyncio.get_running_loop().call_at(when, expire)

    def cancel(self) -> None:
        """Stop the timer."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def fired(self) -> None:
        """Forget the timer that just fired."""
        self._handle = None


def aged(
    sessions: Iterable[Session], max_age: float | None, now: float
) -> list[Session]:
    """Return the live *sessions* that reached *max_age* at *now*."""
    if max_age is None:
        return []
    return [s for s in sessions if s.is_alive and now - s.created_at >= max_age]
