"""Pool: the sessions of one pool, their filling, renewal and fair waiting."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from scrapy.exceptions import IgnoreRequest

from .age_limits import AgeLimits
from .errors import SessionWaitTimeout
from .identities import ProfileRotation
from .lifetimes import LearnedLimits
from .pool_events import PoolCounts
from .pool_filling import Creations
from .session import RetireReason
from .turns import Slot, TurnPicker
from .waiting import WaitLine

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Iterator

    from scrapy import Request

    from .backends import SessionKind
    from .pool_events import PoolEvents
    from .pool_options import PoolOptions
    from .session import Limits, Session

logger = logging.getLogger(__name__)


class Pool:
    """The sessions of one pool, handed out to requests fairly.

    *create_session* creates one session for the given triggering request (it
    retries internally and raises when the pool cannot get one); *events* is
    told about sessions joining and leaving the pool and about waiting
    requests; *jitter* is the magnitude of the random variation of the
    delay; *max_wait* bounds the seconds a request waits for a session.

    The pool grows to :attr:`PoolOptions.size` sessions as its growth
    policy says (each of the first requests starts one, or only requests
    that find every session busy); requests book the soonest turn (no
    polling), or wait first come, first served. Sessions near a limit are renewed in the background.
    """

    def __init__(
        self,
        pool_id: str,
        options: PoolOptions,
        *,
        kind: SessionKind,
        limits: Limits,
        create_session: Callable[[Request], Awaitable[Session]],
        events: PoolEvents,
        jitter: float,
        max_wait: float,
    ) -> None:
        #: The pool ID.
        self.id = pool_id
        #: The pool options.
        self.options = options
        #: The kind of the sessions of the pool.
        self.kind = kind
        #: The lifecycle limits of the sessions of the pool, learned ones included.
        self.limits = self._given_limits = limits
        self.learned = LearnedLimits()
        self._events = events
        self._jitter = jitter
        self._max_wait = max_wait
        self._pending = options.size
        self._sessions: dict[str, Session] = {}
        self._line: WaitLine[Slot] = WaitLine(lambda slot: self._give_up(slot[0]))
        self._creations: Creations[asyncio.Future[Slot]] = Creations(
            create_session, self._on_created
        )
        self._age_limits = AgeLimits(
            limits.max_age, lambda session: self.retire(session, RetireReason.MAX_AGE)
        )
        self._turns = TurnPicker(
            self._sessions,
            limits,
            options,
            sample_delay=self.sample_delay,
            retire=self.retire,
            renew=self._renew,
        )
        self._closed = asyncio.Event()
        self._template: Request | None = None
        #: What the pool did so far.
        self.counts = PoolCounts()
        #: The profiles that new sessions of the pool take in turn.
        self.profiles = ProfileRotation(())
        #: Monotonic time of the last activity (a request, a new session).
        self.last_activity = time.monotonic()

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
        return len(self._line)

    @property
    def creating(self) -> int:
        """Number of sessions being created."""
        return len(self._creations)

    def get(self, session_id: str) -> Session | None:
        """Return the live session *session_id* of this pool, if any."""
        return self._sessions.get(session_id)

    def seed(self, sessions: Iterable[Session], *, keep_age: bool = False) -> None:
        """Queue sessions made elsewhere; they are used before any new init.

        Their age and idle time count from when they join the pool, unless
        *keep_age* (sessions restored from a saved state keep theirs).
        """
        self._creations.seed(sessions, keep_age=keep_age)

    def add(self, session: Session, request: Request | None = None) -> None:
        """Add a session made elsewhere; it is used like any other.

        It counts towards the size of the pool: one session fewer is
        initialized for the first requests of the pool.
        """
        if self._pending > 0:
            self._pending -= 1
        self._add(session, request or self._template, None)

    @property
    def is_idle(self) -> bool:
        """Whether nothing is going on: no request waiting or in flight."""
        return (
            not self._creations
            and not self.waiting
            and all(session.in_flight == 0 for session in self._sessions.values())
        )

    def sample_delay(self) -> float:
        """Return the delay before the next use of a session."""
        return self.options.sample_delay(self._jitter)

    async def acquire(self, request: Request) -> Session:
        """Return a session for *request*, once it may be used.

        The session counts *request* as in flight until :meth:`release`.
        Raises :exc:`~scrapy.exceptions.IgnoreRequest` if the pool closes
        meanwhile, :exc:`~scrapy_session_pools.SessionWaitTimeout` if no
        session is ready within the maximum wait.
        """
        began = self.last_activity = time.monotonic()
        deadline = began + self._max_wait
        while True:
            # The bound applies to waiting for a live session: a booked turn
            # (the session delay) is waited for, however far it is.
            session, start = await self._reserve(request, deadline)
            if await self._take_turn(session, start):
                return self._served(session, request, began)
            logger.debug(
                "Session %s of pool %s ended while request %s waited for it; "
                "picking another one.",
                session.id,
                self.id,
                request,
            )

    async def acquire_session(
        self, session: Session, request: Request
    ) -> Session | None:
        """Book the next turn of a given *session* for *request* (a pinned one).

        Returns ``None`` if the session has ended or cannot take another
        turn within its limits (it retires if it reached one), before or
        after its turn comes. Pinned requests are not held back by
        ``max_concurrency``: the chain needs this very session.
        """
        began = time.monotonic()
        reason = session.limit_reached(began, self.limits)
        if reason is not None:
            self.retire(session, reason)
        start = max(began, session.next_use)
        if not session.is_alive or session.turn_limit(start, self.limits):
            return None
        session.in_flight += 1
        start = session.reserve(began, self.sample_delay())
        if not await self._take_turn(session, start):
            return None
        return self._served(session, request, began)

    async def acquire_new(self, request: Request) -> Session:
        """Initialize a new session for *request* alone and return it."""
        began = time.monotonic()
        own: asyncio.Future[Slot] = asyncio.get_running_loop().create_future()
        # A replacement already on its way is taken rather than growing.
        if not self._creations.claim(own):
            self._creations.start(request, own, None)
        session, start = await own
        if not await self._take_turn(session, start):
            # Ended as soon as it was made: a new one, once more.
            return await self.acquire_new(request)
        return self._served(session, request, began)

    async def _take_turn(self, session: Session, start: float) -> bool:
        """Wait for a booked turn on *session*; ``False`` if the session ended.

        The turn and the in-flight slot are given up if the session ended or
        the wait is interrupted (the pool closed, the request cancelled).
        """
        try:
            await self._sleep_until(start)
        except BaseException:
            self._give_up(session)
            raise
        if not session.is_alive:
            self._give_up(session)
        return session.is_alive

    def _served(self, session: Session, request: Request, began: float) -> Session:
        session.use()
        self.counts.served += 1
        self.last_activity = time.monotonic()
        self._events.request_served(self, request, self.last_activity - began)
        return session

    def use_now(self, session: Session) -> None:
        """Count a request sent with *session* outside its turns (a redirect),
        in flight until :meth:`release`."""
        session.in_flight += 1
        session.uses += 1
        self.counts.served += 1
        self.last_activity = session.last_use = time.monotonic()

    def _give_up(self, session: Session) -> None:
        """Give up a booked turn on *session* and its in-flight slot."""
        session.cancel_turn()
        self.release(session)

    def release(self, session: Session) -> None:
        """Count one request of *session* as answered.

        A session that this request took to a limit (its last use) retires.
        """
        session.in_flight = max(0, session.in_flight - 1)
        self.last_activity = time.monotonic()
        if session.is_alive:
            reason = session.limit_reached(self.last_activity, self.limits)
            if reason is RetireReason.MAX_USES:
                self.retire(session, reason)
        if self.options.max_concurrency is not None:
            self._serve_waiters()

    def retire(
        self, session: Session, reason: RetireReason, request: Request | None = None
    ) -> bool:
        """Remove *session* from the pool and start its replacement.

        Returns ``False`` if it was already gone. The replacement is
        initialized for the request that triggered the last successful
        initialization of the pool (or *request* if there was none), so that
        a request whose URL breaks sessions does not break replacements.
        """
        if not session.retire(reason):
            return False
        self._sessions.pop(session.id, None)
        self._age_limits.forget(session)
        self.counts.retired[reason] += 1
        self._events.session_retired(self, session, reason)
        template = self._template or request
        if session.renewal is None and template is not None and not self.is_closed:
            self._creations.start(template, None, None)
        return True

    def learn(self, learned: LearnedLimits) -> None:
        """Retire sessions at *learned* limits too, where no setting gives one."""
        self.learned = learned
        self.limits = self._turns.limits = learned.applied_to(
            self._given_limits, self.options
        )
        self._age_limits.set_max_age(self.limits.max_age, self._sessions.values())

    def close(self, cause: BaseException | None = None) -> None:
        """Stop all work; fail waiting requests with *cause* or IgnoreRequest."""
        if self.is_closed:
            return
        self._closed.set()
        self._age_limits.stop()
        self._creations.cancel_all()
        self._line.release_all(cause or IgnoreRequest(f"Session pool {self.id} closed"))

    async def _reserve(self, request: Request, deadline: float) -> Slot:
        if self.is_closed:
            raise IgnoreRequest(f"Session pool {self.id} closed")
        if self._pending > 0 and not self._grows_later():
            self._pending -= 1
            own: asyncio.Future[Slot] = asyncio.get_running_loop().create_future()
            self._creations.start(request, own, None)
            return await own
        slot = self._turns.book(time.monotonic()) if not self._line else None
        if slot is not None:
            return slot
        waiter = self._line.join()
        if not self._creations and not self._turns.has_turns_left(time.monotonic()):
            self._creations.start(request, None, None)  # else nothing serves it
        logger.debug("Request %s waits for a session of pool %s", request, self.id)
        self._events.request_waiting(self, request)
        try:
            return await self._line.wait(waiter, deadline - time.monotonic())
        except asyncio.TimeoutError:
            self._events.request_timed_out(self, request)
            raise SessionWaitTimeout.of(request, self.id, self._max_wait) from None
        finally:
            self._events.request_stopped_waiting(self, request)

    def _grows_later(self) -> bool:
        """Unless the pool grows eagerly, whether a request can do without a
        new session: one is idle and usable now, or one is being created."""
        return not self.options.grows_eagerly and (
            bool(self._creations) or self._turns.is_idle_now(time.monotonic())
        )

    def _renew(self, session: Session, reason: RetireReason) -> None:
        """Start the replacement of *session*, which nears *reason*, once."""
        if session.renewal is None and self._template is not None:
            session.renewal = reason
            self._creations.start(self._template, None, session)

    def _serve_waiters(self) -> None:
        now = time.monotonic()
        self._line.serve(lambda: self._turns.book(now))

    async def _sleep_until(self, start: float) -> None:
        wait = start - time.monotonic()
        if wait > 0:
            try:
                await asyncio.wait_for(self._closed.wait(), timeout=wait)
            except asyncio.TimeoutError:
                return
        if self.is_closed:
            raise IgnoreRequest(f"Session pool {self.id} closed")

    def _on_created(
        self,
        session: Session | None,
        error: BaseException | None,
        request: Request,
        owner: asyncio.Future[Slot] | None,
        renews: Session | None,
    ) -> None:
        if error is not None and not isinstance(error, asyncio.CancelledError):
            # The real reason goes to the request, even if the pool closed
            # because of it (e.g. TooManyBadSessionInits).
            if renews is not None:
                renews.renewal = None
            if owner is not None and not owner.done():
                owner.set_exception(error)
            else:
                logger.debug(
                    "A session of pool %s could not be created: %r", self.id, error
                )
            if not self._sessions and not self._creations:
                self._line.release_all(error)
        elif session is None or self.is_closed:
            if owner is not None and not owner.done():
                owner.set_exception(IgnoreRequest(f"Session pool {self.id} closed"))
        else:
            self._add(session, request, owner)

    def _add(
        self,
        session: Session,
        request: Request | None,
        owner: asyncio.Future[Slot] | None,
    ) -> None:
        now = time.monotonic()
        session.next_use = max(session.next_use, now + self.sample_delay())
        session.last_use = max(session.last_use, now)
        self._sessions[session.id] = session
        if not self.is_closed:
            self._age_limits.watch(session)
        if request is not None:
            self._template = request
        self.counts.created += 1
        self.last_activity = now
        self._events.session_added(self, session)
        if owner is not None and not owner.done():
            session.in_flight += 1
            owner.set_result((session, session.reserve(now, self.sample_delay())))
        self._serve_waiters()
