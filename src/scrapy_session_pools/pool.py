"""Pool and PoolOptions: the sessions of one pool, their filling and waiting."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import IgnoreRequest

from .errors import SessionWaitTimeout, troubleshooting_link

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator, Mapping

    from scrapy import Request

    from .session import RetireReason, Session

logger = logging.getLogger(__name__)

_Slot = tuple["Session", float]


@dataclass(frozen=True, slots=True)
class PoolOptions:
    """Options of one pool.

    *size* is the number of sessions the pool keeps, *delay* the minimum
    number of seconds between two uses of the same session, and
    *randomize_delay* whether that delay varies randomly around its value
    (by :setting:`DOWNLOAD_DELAY_JITTER`).
    """

    size: int = 8
    delay: float = 0.0
    randomize_delay: bool = True

    #: Keys accepted in pool dicts.
    KEYS = ("size", "delay", "randomize_delay")

    @classmethod
    def from_mapping(
        cls, mapping: Mapping[str, Any], defaults: PoolOptions
    ) -> PoolOptions:
        """Return options from a pool dict, missing keys taken from *defaults*.

        Raises :exc:`ValueError` describing every bad key or value.
        """
        problems = [
            f"unknown key {key!r} (expected some of {', '.join(cls.KEYS)})"
            for key in mapping
            if key not in cls.KEYS
        ]
        size = mapping.get("size", defaults.size)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            problems.append(f"size: expected an integer >= 1, got {size!r}")
            size = defaults.size
        delay = mapping.get("delay", defaults.delay)
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
            problems.append(f"delay: expected a number >= 0, got {delay!r}")
            delay = defaults.delay
        randomize = mapping.get("randomize_delay", defaults.randomize_delay)
        if not isinstance(randomize, bool):
            problems.append(
                f"randomize_delay: expected True or False, got {randomize!r}"
            )
            randomize = defaults.randomize_delay
        if problems:
            raise ValueError("; ".join(problems))
        return cls(size=size, delay=float(delay), randomize_delay=randomize)


class Pool:
    """The sessions of one pool, handed out to requests fairly.

    *create_session* creates one session for the given triggering request (it
    retries internally and raises when the pool cannot get one); *jitter* is
    the magnitude of the random variation of the delay; *max_wait* bounds the
    seconds a request waits for a session.

    The first :attr:`PoolOptions.size` requests each start a session and use
    it; later requests take the session that can be used the soonest.
    Requests that find no session wait in first-come, first-served order
    until one is created. Every use of a session is reserved in advance, so
    waiting never polls.
    """

    def __init__(
        self,
        pool_id: str,
        options: PoolOptions,
        *,
        create_session: Callable[[Request], Awaitable[Session]],
        jitter: float,
        max_wait: float,
    ) -> None:
        #: The pool ID.
        self.id = pool_id
        #: The pool options.
        self.options = options
        self._create_session = create_session
        self._jitter = jitter
        self._max_wait = max_wait
        self._pending = options.size
        self._sessions: dict[str, Session] = {}
        self._waiters: deque[asyncio.Future[_Slot]] = deque()
        self._tasks: set[asyncio.Task[Session]] = set()
        self._closed = asyncio.Event()
        self._template: Request | None = None
        #: Number of sessions created by the pool so far.
        self.created = 0
        #: Number of sessions retired so far, by reason.
        self.retired: Counter[RetireReason] = Counter()

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Iterator[Session]:
        return iter(list(self._sessions.values()))

    @property
    def is_closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed.is_set()

    @property
    def waiting(self) -> int:
        """Number of requests waiting for a session."""
        return sum(1 for waiter in self._waiters if not waiter.done())

    @property
    def creating(self) -> int:
        """Number of sessions being created."""
        return len(self._tasks)

    def get(self, session_id: str) -> Session | None:
        """Return the live session *session_id* of this pool, if any."""
        return self._sessions.get(session_id)

    def sample_delay(self) -> float:
        """Return the delay before the next use of a session."""
        delay = self.options.delay
        if not delay or not self.options.randomize_delay or not self._jitter:
            return delay
        factor = random.uniform(1 - self._jitter, 1 + self._jitter)  # noqa: S311
        return max(0.0, delay * factor)

    async def acquire(self, request: Request) -> Session:
        """Return a session for *request*, once it may be used.

        Raises :exc:`~scrapy.exceptions.IgnoreRequest` if the pool closes
        meanwhile, :exc:`~scrapy_session_pools.SessionWaitTimeout` if no
        session is ready within the maximum wait.
        """
        deadline = time.monotonic() + self._max_wait
        while True:
            own = self._pending > 0 and not self.is_closed
            session, start = await self._reserve(request, deadline)
            # A request that created its session waited for its init, not
            # for its turn: the bound applies to waiting for other sessions.
            if not own and start > deadline:
                raise self._timeout(request)
            await self._sleep_until(start)
            if session.is_alive:
                return session
            logger.debug(
                "Session %s of pool %s ended while request %s waited for it; "
                "picking another one.",
                session.id,
                self.id,
                request,
            )

    def retire(self, session: Session, reason: RetireReason) -> bool:
        """Remove *session* from the pool; ``False`` if it was already gone."""
        if not session.retire(reason):
            return False
        self._sessions.pop(session.id, None)
        self.retired[reason] += 1
        return True

    def refill(self, request: Request) -> None:
        """Start creating a session in the background to replace a retired one.

        The new session is initialized for the request that triggered the
        last successful initialization of the pool, so that a request whose
        URL breaks sessions does not break their replacements; *request* is
        used if no session was ever created.
        """
        if not self.is_closed:
            self._start_creation(self._template or request, None)

    def close(self) -> None:
        """Stop all work: cancel creations and release every waiting request."""
        if self.is_closed:
            return
        self._closed.set()
        for task in list(self._tasks):
            task.cancel()
        self._release_waiters(IgnoreRequest(f"Session pool {self.id} closed"))

    async def _reserve(self, request: Request, deadline: float) -> _Slot:
        if self.is_closed:
            raise IgnoreRequest(f"Session pool {self.id} closed")
        if self._pending > 0:
            self._pending -= 1
            own: asyncio.Future[_Slot] = asyncio.get_running_loop().create_future()
            self._start_creation(request, own)
            return await own
        if self._sessions:
            return self._reserve_now(time.monotonic())
        waiter: asyncio.Future[_Slot] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        if not self._tasks:
            self._start_creation(request, None)
        logger.debug(
            "Request %s waits for a session of pool %s",
            request,
            self.id,
        )
        try:
            return await asyncio.wait_for(
                waiter, timeout=max(0.0, deadline - time.monotonic())
            )
        except asyncio.TimeoutError:
            raise self._timeout(request) from None

    def _timeout(self, request: Request) -> SessionWaitTimeout:
        return SessionWaitTimeout(
            f"Request {request} waited {self._max_wait:g} s for a session "
            f"of pool {self.id!r} without getting one. Increase "
            f"ZYTE_API_SESSION_QUEUE_MAX_ATTEMPTS or "
            f"ZYTE_API_SESSION_QUEUE_WAIT_TIME, or make the pool larger. "
            f"See {troubleshooting_link('wait-timeout')}"
        )

    def _reserve_now(self, now: float) -> _Slot:
        session = min(self._sessions.values(), key=lambda s: s.next_use)
        return session, session.reserve(now, self.sample_delay())

    async def _sleep_until(self, start: float) -> None:
        wait = start - time.monotonic()
        if wait > 0:
            try:
                await asyncio.wait_for(self._closed.wait(), timeout=wait)
            except asyncio.TimeoutError:
                return
        if self.is_closed:
            raise IgnoreRequest(f"Session pool {self.id} closed")

    def _start_creation(
        self, request: Request, owner: asyncio.Future[_Slot] | None
    ) -> None:
        task = asyncio.ensure_future(self._create_session(request))
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._on_created(done, request, owner))

    def _on_created(
        self,
        task: asyncio.Task[Session],
        request: Request,
        owner: asyncio.Future[_Slot] | None,
    ) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            error: BaseException = IgnoreRequest(f"Session pool {self.id} closed")
            if owner is not None and not owner.done():
                owner.set_exception(error)
            return
        exception = task.exception()
        if exception is not None:
            self._on_creation_failed(exception, owner)
            return
        session = task.result()
        if self.is_closed:
            if owner is not None and not owner.done():
                owner.set_exception(IgnoreRequest(f"Session pool {self.id} closed"))
            return
        now = time.monotonic()
        session.next_use = now + self.sample_delay()
        self._sessions[session.id] = session
        self._template = request
        self.created += 1
        if owner is not None and not owner.done():
            owner.set_result((session, session.reserve(now, self.sample_delay())))
        while self._waiters and self._sessions:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(self._reserve_now(now))

    def _on_creation_failed(
        self, exception: BaseException, owner: asyncio.Future[_Slot] | None
    ) -> None:
        if owner is not None and not owner.done():
            owner.set_exception(exception)
        else:
            logger.debug(
                "A session of pool %s could not be created: %r", self.id, exception
            )
        if not self._sessions and not self._tasks:
            self._release_waiters(exception)

    def _release_waiters(self, exception: BaseException) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(exception)
