"""WaitLine: requests waiting for a session of a pool, served in arrival order."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

_T = TypeVar("_T")


def _has_result(waiter: asyncio.Future[_T]) -> bool:
    return waiter.done() and not waiter.cancelled() and waiter.exception() is None


class WaitLine(Generic[_T]):
    """A first-come, first-served line of waiters, each given one slot.

    Waiting is event-driven: :meth:`serve` hands slots out when the owner
    has some (a session joined, a request ended), and :meth:`wait` never
    polls. A waiter's slot is never lost: served as it times out, it keeps
    it; cancelled after being served, the *give_back* of :meth:`wait` gets
    it.
    """

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: deque[asyncio.Future[_T]] = deque()

    def __len__(self) -> int:
        return sum(1 for waiter in self._waiters if not waiter.done())

    def __bool__(self) -> bool:
        return bool(self._waiters)

    def join(self) -> asyncio.Future[_T]:
        """Add a waiter at the end of the line; return it, to :meth:`wait` on."""
        waiter: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        return waiter

    async def wait(
        self,
        waiter: asyncio.Future[_T],
        timeout: float,
        give_back: Callable[[_T], None],
    ) -> _T:
        """Return the slot *waiter* gets within *timeout* seconds.

        Raises :exc:`asyncio.TimeoutError` if it gets none in time; a slot
        served to a waiter that is cancelled goes to *give_back*.
        """
        try:
            return await asyncio.wait_for(waiter, timeout=max(0.0, timeout))
        except asyncio.TimeoutError:
            # Python 3.12+ may time out a waiter in the loop iteration in
            # which it was served: it was served in time, keep its slot.
            if _has_result(waiter):
                return waiter.result()
            raise
        except BaseException:
            # Cancelled after being served: give the slot back.
            if _has_result(waiter):
                give_back(waiter.result())
            raise

    def serve(self, next_slot: Callable[[], _T | None]) -> None:
        """Give slots from *next_slot* to waiters, in order, while it has any."""
        while self._waiters:
            waiter = self._waiters[0]
            if waiter.done():
                self._waiters.popleft()
                continue
            slot = next_slot()
            if slot is None:
                return
            self._waiters.popleft()
            waiter.set_result(slot)

    def release_all(self, exception: BaseException) -> None:
        """Make every waiter fail with *exception*."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(exception)
