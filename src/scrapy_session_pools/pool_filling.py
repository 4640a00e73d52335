"""Creations: the sessions a pool is getting, from seeds or initializations."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

    from scrapy import Request

    from .session import Session

_Owner = TypeVar("_Owner")


class Creations(Generic[_Owner]):
    """The sessions being created for one pool.

    Seeds (sessions made elsewhere) come first; then *create_session*
    initializes one for a triggering request, in a task. Each creation may
    have an *owner*, the future of the request it is for, and may renew a
    session; a creation without either is *unclaimed*, and the next request
    that needs a session of its own may claim it instead of starting another.
    *done* gets each new session, or each failure.
    """

    def __init__(
        self,
        create_session: Callable[[Request], Awaitable[Session]],
        done: Callable[
            [
                Session | None,
                BaseException | None,
                Request,
                _Owner | None,
                Session | None,
            ],
            None,
        ],
    ) -> None:
        self._create_session = create_session
        self._done = done
        self._seeds: deque[tuple[Session, bool]] = deque()
        self._tasks: set[asyncio.Task[Session]] = set()
        self._unclaimed: set[asyncio.Task[Session]] = set()
        self._claims: dict[asyncio.Task[Session], _Owner] = {}

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def is_empty(self) -> bool:
        """Whether nothing is being created and no seed is left."""
        return not self._tasks and not self._seeds

    def seed(self, sessions: Iterable[Session], *, keep_age: bool) -> None:
        """Queue sessions made elsewhere, used before any new initialization.

        Their age and idle time count from when they join the pool, unless
        *keep_age*.
        """
        self._seeds.extend((session, keep_age) for session in sessions)

    def start(
        self, request: Request, owner: _Owner | None, renews: Session | None
    ) -> None:
        """Get a session for *request*: a seed if any, else a new one."""
        if self._seeds:
            seed, keep_age = self._seeds.popleft()
            if not keep_age:
                seed.created_at = seed.last_use = time.monotonic()
            self._done(seed, None, request, owner, renews)
            return
        task = asyncio.ensure_future(self._create_session(request))
        self._tasks.add(task)
        if owner is None and renews is None:
            self._unclaimed.add(task)
        task.add_done_callback(lambda done: self._finish(done, request, owner, renews))

    def claim(self, owner: _Owner) -> bool:
        """Give *owner* an unclaimed creation, if there is one."""
        if not self._unclaimed:
            return False
        self._claims[self._unclaimed.pop()] = owner
        return True

    def cancel_all(self) -> None:
        """Cancel every creation (the pool closes)."""
        for task in list(self._tasks):
            task.cancel()

    def _finish(
        self,
        task: asyncio.Task[Session],
        request: Request,
        owner: _Owner | None,
        renews: Session | None,
    ) -> None:
        self._tasks.discard(task)
        self._unclaimed.discard(task)
        owner = self._claims.pop(task, owner)
        if task.cancelled():
            self._done(None, asyncio.CancelledError(), request, owner, renews)
        elif task.exception() is not None:
            self._done(None, task.exception(), request, owner, renews)
        else:
            self._done(task.result(), None, request, owner, renews)
