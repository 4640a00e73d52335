"""PoolClosing: whether a pool is closed, and the sleeps that its closing ends."""

from __future__ import annotations

import asyncio
import time


class PoolClosing:
    """The closed state of a pool and its sleeps, which :meth:`close` ends.

    A sleeping request (its booked turn is later) wakes up at once when the
    pool closes; its set of sleepers exists only while some sleep.
    """

    __slots__ = ("_sleepers", "is_closed")

    def __init__(self) -> None:
        #: Whether :meth:`close` was called.
        self.is_closed = False
        self._sleepers: set[asyncio.Future[None]] | None = None

    def close(self) -> None:
        """Mark the pool closed and wake every sleeper."""
        self.is_closed = True
        for sleeper in self._sleepers or ():
            if not sleeper.done():
                sleeper.set_result(None)

    async def sleep_until(self, start: float) -> bool:
        """Sleep until monotonic time *start*; return ``False`` if the pool
        closed (before or meanwhile)."""
        wait = start - time.monotonic()
        if wait > 0 and not self.is_closed:
            loop = asyncio.get_running_loop()
            sleeper: asyncio.Future[None] = loop.create_future()
            timer = loop.call_later(wait, _wake, sleeper)
            if self._sleepers is None:
                self._sleepers = set()
            sleepers = self._sleepers
            sleepers.add(sleeper)
            try:
                await sleeper
            finally:
                timer.cancel()
                sleepers.discard(sleeper)
                if not sleepers and self._sleepers is sleepers:
                    self._sleepers = None
        return not self.is_closed


def _wake(sleeper: asyncio.Future[None]) -> None:
    if not sleeper.done():
        sleeper.set_result(None)
