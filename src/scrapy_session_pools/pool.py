"""Pool: the sessions of one pool, their filling, renewal and fair waiting."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from scrapy.exceptions import IgnoreRequest

from . import turns
from .age_limits import AgeTimer, aged
from .errors import SessionWaitTimeout
from .identities import NO_PROFILES, ProfileRotation
from .lifetimes import NOTHING_LEARNED, LearnedLimits
from .pool_closing import PoolClosing
from .pool_context import RequestTemplate
from .pool_events import PoolCounts
from .pool_filling import Creations
from .session import RetireReason
from .waiting import WaitLine

if TYPE_CHECKING:
    from collections.abc import Awaitable, Iterable, Iterator

    from scrapy import Request

    from .backends import SessionKind
    from .pool_context import PoolContext
    from .pool_options import PoolOptions
    from .session import Limits, Session
    from .turns import Slot

logger = logging.getLogger(__name__)


class Pool:
    """The sessions of one pool, handed out to requests fairly.

    *context* holds what all pools share (see :class:`PoolContext`).

    The pool grows to :attr:`PoolOptions.size` sessions as its growth
    policy says (each of the first requests starts one, or only requests
    that find every session busy); requests book the soonest turn (no
    polling), or wait first come, first served. Sessions near a limit are renewed in the background.
    """

    __slots__ = (
        "__weakref__",
        "_age_timer",
        "_closing",
        "_context",
        "_creations",
        "_given_limits",
        "_line",
        "_pending",
        "_sessions",
        "_template",
        "counts",
        "id",
        "kind",
        "last_activity",
        "learned",
        "limits",
        "options",
        "profiles",
    )

    def __init__(
        self,
        pool_id: str,
        options: PoolOptions,
        *,
        kind: SessionKind,
        limits: Limits,
        context: PoolContext,
    ) -> None:
        #: The pool ID.
        self.id = pool_id
        #: The pool options.
        self.options = options
        #: The kind of the sessions of the pool.
        self.kind = kind
        #: The lifecycle limits of the sessions of the pool, learned ones included.
        self.limits = self._given_limits = limits
        #: The limits learned from the endings of the pool's sessions.
        self.learned: LearnedLimits = NOTHING_LEARNED
        self._context = context
        self._pending = options.size
        self._sessions: dict[str, Session] = {}
        # Made when needed and dropped when empty: an idle pool keeps neither.
        self._line: WaitLine[Slot] | None = None
        self._creations: Creations[asyncio.Future[Slot]] | None = None
        self._closing = PoolClosing()
        self._age_timer = AgeTimer()
        self._template: RequestTemplate | None = None
        #: What the pool did so far.
        self.counts = PoolCounts()
        #: The profiles that new sessions of the pool take in turn.
        self.profiles: ProfileRotation = NO_PROFILES
        #: Monotonic time of the last activity (a request, a new session).
        self.last_activity = time.monotonic()

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Iterator[Session]:
        return iter(list(self._sessions.values()))

    def live_sessions(self) -> Iterable[Session]:
        """The live sessions of the pool (a view: do not retire while iterating)."""
        return self._sessions.values()

    @property
    def is_closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closing.is_closed

    @property
    def waiting(self) -> int:
        """Number of requests waiting for a session."""
        return len(self._line) if self._line is not None else 0

    @property
    def creating(self) -> int:
        """Number of sessions being created."""
        return len(self._creations) if self._creations is not None else 0

    def get(self, session_id: str) -> Session | None:
        """Return the live session *session_id* of this pool, if any."""
        return self._sessions.get(session_id)

    def seed(self, sessions: Iterable[Session], *, keep_age: bool = False) -> None:
        """Queue sessions made elsewhere; they are used before any new init.

        Their age and idle time count from when they join the pool, unless
        *keep_age* (sessions restored from a saved state keep theirs).
        """
        self._filling().seed(sessions, keep_age=keep_age)

    def add(self, session: Session, request: Request | None = None) -> None:
        """Add a session made elsewhere; it is used like any other.

        It counts towards the size of the pool: one session fewer is
        initialized for the first requests of the pool.
        """
        if self._pending > 0:
            self._pending -= 1
        self._add(session, request, None)

    @property
    def is_idle(self) -> bool:
        """Whether nothing is going on: no request waiting or in flight."""
        return (
            not self.creating
            and not self.waiting
            and all(session.in_flight == 0 for session in self._sessions.values())
        )

    def sample_delay(self) -> float:
        """Return the delay before the next use of a session."""
        return self.options.sample_delay(self._context.jitter)

    async def acquire(self, request: Request) -> Session:
        """Return a session for *request*, once it may be used.

        The session counts *request* as in flight until :meth:`release`.
        Raises :exc:`~scrapy.exceptions.IgnoreRequest` if the pool closes
        meanwhile, :exc:`~scrapy_session_pools.SessionWaitTimeout` if no
        session is ready within the maximum wait.
        """
        began = self.last_activity = time.monotonic()
        deadline = began + self._context.max_wait
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

    def acquire_now(self, request: Request) -> Session | None:
        """Return a session for *request* if one may be used right away.

        The same as :meth:`acquire` when it would not wait: no request is
        ahead in the line, no session needs creating and a session's turn
        starts now. Otherwise returns ``None`` and books nothing.
        """
        if self.is_closed or self._line or self._owes_own_init():
            return None
        now = self.last_activity = time.monotonic()
        slot = turns.book(self, now, latest=now)
        if slot is None:
            return None
        return self._served(slot[0], request, now)

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
        creations = self._filling()
        if not creations.claim(own):
            creations.start(request, own, None)
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
        self._context.events.request_served(self, request, self.last_activity - began)
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
        self._arm_age_timer()
        self.counts.count_retired(reason)
        self._context.events.session_retired(self, session, reason)
        template = self._template.request() if self._template is not None else request
        if session.renewal is None and template is not None and not self.is_closed:
            self._filling().start(template, None, None)
        return True

    def learn(self, learned: LearnedLimits) -> None:
        """Retire sessions at *learned* limits too, where no setting gives one."""
        self.learned = learned
        self.limits = learned.applied_to(self._given_limits, self.options)
        self._arm_age_timer()

    def close(self, cause: BaseException | None = None) -> None:
        """Stop all work; fail waiting requests with *cause* or IgnoreRequest."""
        if self.is_closed:
            return
        self._closing.close()
        self._age_timer.cancel()
        if self._creations is not None:
            self._creations.cancel_all()
        if self._line is not None:
            self._line.release_all(
                cause or IgnoreRequest(f"Session pool {self.id} closed")
            )

    async def _reserve(self, request: Request, deadline: float) -> Slot:
        if self.is_closed:
            raise IgnoreRequest(f"Session pool {self.id} closed")
        if self._owes_own_init():
            self._pending -= 1
            own: asyncio.Future[Slot] = asyncio.get_running_loop().create_future()
            self._filling().start(request, own, None)
            return await own
        slot = turns.book(self, time.monotonic()) if not self._line else None
        if slot is not None:
            return slot
        if self._line is None:
            self._line = WaitLine()
        line = self._line
        waiter = line.join()
        if not self.creating and not turns.has_turns_left(self, time.monotonic()):
            self._filling().start(request, None, None)  # else nothing serves it
        logger.debug("Request %s waits for a session of pool %s", request, self.id)
        events = self._context.events
        events.request_waiting(self, request)
        try:
            return await line.wait(
                waiter, deadline - time.monotonic(), self._give_up_slot
            )
        except asyncio.TimeoutError:
            events.request_timed_out(self, request)
            raise SessionWaitTimeout.of(
                request, self.id, self._context.max_wait
            ) from None
        finally:
            events.request_stopped_waiting(self, request)
            if self._line is line and not line:
                self._line = None

    def _give_up_slot(self, slot: Slot) -> None:
        self._give_up(slot[0])

    def _owes_own_init(self) -> bool:
        """Whether the next request starts a session of its own (eager
        filling)."""
        return self._pending > 0 and not self._grows_later()

    def _grows_later(self) -> bool:
        """Unless the pool grows eagerly, whether a request can do without a
        new session: one is idle and usable now, or the pool has none yet
        and its first is being created (replacements being made do not stop
        a busy pool from growing)."""
        if self.options.grows_eagerly:
            return False
        if not self._sessions:
            return bool(self.creating)
        return turns.is_idle_now(self, time.monotonic())

    def renew(self, session: Session, reason: RetireReason) -> None:
        """Start the replacement of *session*, which nears *reason*, once."""
        if session.renewal is None and self._template is not None:
            session.renewal = reason
            self._filling().start(self._template.request(), None, session)

    def _filling(self) -> Creations[asyncio.Future[Slot]]:
        """The creations of the pool, made when first needed."""
        if self._creations is None:
            self._creations = Creations(self._create, self._on_created)
        return self._creations

    def _create(self, request: Request) -> Awaitable[Session]:
        return self._context.create_session(self, request)

    def _serve_waiters(self) -> None:
        if self._line is not None:
            now = time.monotonic()
            self._line.serve(lambda: turns.book(self, now))

    async def _sleep_until(self, start: float) -> None:
        if not await self._closing.sleep_until(start):
            raise IgnoreRequest(f"Session pool {self.id} closed")

    def _arm_age_timer(self) -> None:
        if not self.is_closed:
            self._age_timer.arm(
                self.limits.max_age,
                self._context.age_timer_horizon,
                self._sessions.values(),
                self._expire,
            )

    def _expire(self) -> None:
        """Retire the sessions that reached the maximum age (the timer fired)."""
        self._age_timer.fired()
        for session in aged(
            self.live_sessions(), self.limits.max_age, time.monotonic()
        ):
            self.retire(session, RetireReason.MAX_AGE)
        self._arm_age_timer()

    def _on_created(
        self,
        session: Session | None,
        error: BaseException | None,
        request: Request,
        owner: asyncio.Future[Slot] | None,
        renews: Session | None,
    ) -> None:
        creations = self._creations
        if creations is not None and creations.is_empty:
            self._creations = None  # nothing left to create: no helper kept
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
            if not self._sessions and not self.creating and self._line is not None:
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
        self._arm_age_timer()
        if request is not None:
            self._template = RequestTemplate.of(request)
        self.counts.created += 1
        self.last_activity = now
        self._context.events.session_added(self, session)
        if owner is not None and not owner.done():
            session.in_flight += 1
            owner.set_result((session, session.reserve(now, self.sample_delay())))
        self._serve_waiters()
