"""Session: one client identity in a pool, with its counters and lifecycle."""

from __future__ import annotations

import asyncio
import enum
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence


class RetireReason(enum.Enum):
    """Why a session left its pool (the value is used in stat names)."""

    #: Too many errors (Zyte API 520/521, connection errors through a proxy).
    ERRORS = "errors"
    #: Too many failed use checks.
    CHECK_FAILURES = "check-failures"
    #: A use check raised an exception.
    CHECK_ERROR = "check-error"
    #: The server said the session expired.
    EXPIRED = "expired"
    #: The response had a blocked status code (e.g. 401 or 403).
    BLOCKED = "blocked"
    #: The session reached its maximum age.
    MAX_AGE = "max-age"
    #: The session stayed unused for longer than its maximum idle time.
    MAX_IDLE = "max-idle"
    #: The session reached its maximum number of uses.
    MAX_USES = "max-uses"
    #: Retired on request (control API).
    MANUAL = "manual"
    #: Its pool stayed idle for too long and was evicted.
    EVICTED = "evicted"


#: Reasons that mean a session died (rather than reaching a limit of its own).
DEATHS = frozenset(
    {
        RetireReason.ERRORS,
        RetireReason.CHECK_FAILURES,
        RetireReason.CHECK_ERROR,
        RetireReason.EXPIRED,
        RetireReason.BLOCKED,
    }
)


@dataclass(frozen=True, slots=True)
class Limits:
    """Lifecycle limits of the sessions of a pool.

    *max_age* and *max_idle* are seconds (since creation, since the previous
    use), *max_uses* a number of requests sent with the session (its
    initialization requests not included); ``None`` means no limit. A session is renewed in the
    background once it reaches *renew_at* (a fraction) of its age or uses
    limit, so that it is replaced before it is used past the limit.
    """

    max_age: float | None = None
    max_idle: float | None = None
    max_uses: int | None = None
    renew_at: float = 0.9


@dataclass(slots=True, eq=False)
class Session:
    """A session of a pool.

    *id* is the session ID, *pool_id* the pool the session belongs to,
    *created_at* the monotonic time of its creation. The other fields change
    as the session is used; :meth:`retire` ends it.
    """

    id: str
    pool_id: str
    created_at: float
    #: Monotonic time before which the session must not start another use.
    next_use: float = 0.0
    #: Monotonic time at which the last reserved use starts.
    last_use: float = 0.0
    #: Monotonic time at which the last request was sent with the session.
    last_sent: float = 0.0
    #: Responses that passed their check, and the monotonic time of the last.
    good_uses: int = 0
    last_good: float = 0.0
    #: Number of requests sent with the session so far (its initialization
    #: requests not included).
    uses: int = 0
    #: Turns reserved by requests that have not been sent yet.
    booked: int = 0
    #: Requests sent with the session and not answered yet.
    in_flight: int = 0
    #: Error score: errors, minus what successes forgave.
    errors: float = 0.0
    #: Failed use checks, minus what successes forgave.
    check_failures: float = 0.0
    #: Why the session ended, or ``None`` while it is alive.
    retire_reason: RetireReason | None = None
    #: The limit a replacement is being prepared for, if any.
    renewal: RetireReason | None = None
    #: Cookies of the session in Zyte API cookie mode (replaced, never
    #: changed in place).
    cookies: Sequence[dict[str, Any]] = ()
    #: Transport state of the session's backend (e.g. an HTTP cookie jar).
    state: Any = None
    #: The profile (proxy, headers) of the session, if any.
    profile: Any = None
    #: User data of the session; it goes with the session object, which its
    #: pool drops when it retires (handles of callbacks may keep it longer).
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.last_use:
            self.last_use = self.created_at

    @property
    def is_alive(self) -> bool:
        """Whether the session can still be used."""
        return self.retire_reason is None

    def reserve(self, now: float, delay: float) -> float:
        """Book the next turn on the session and return when it may start.

        A turn starts no sooner than :attr:`next_use`; the turn after it may
        start *delay* seconds after this one. The turn counts as a use once
        :meth:`use` says its request is sent, or not at all if
        :meth:`cancel_turn` gives it up.
        """
        start = max(now, self.next_use)
        self.next_use = start + delay
        self.last_use = start
        self.booked += 1
        return start

    async def keep_gap(self, gap: float) -> None:
        """Wait until *gap* seconds have passed since the last request sent
        with the session; then count one more as sent."""
        now = time.monotonic()
        send_at = self.last_sent = max(now, self.last_sent + gap)  # booked at once
        if send_at > now:
            await asyncio.sleep(send_at - now)

    def use(self) -> None:
        """Count a booked turn as a use: its request is being sent."""
        self.booked = max(0, self.booked - 1)
        self.uses += 1

    def cancel_turn(self) -> None:
        """Give up a booked turn whose request will not be sent with it."""
        self.booked = max(0, self.booked - 1)

    @property
    def committed_uses(self) -> int:
        """Uses so far plus booked turns: what counts against the uses limit."""
        return self.uses + self.booked

    def limit_reached(self, now: float, limits: Limits) -> RetireReason | None:
        """Return the limit that the session has reached at *now*, if any.

        Such a session must retire: it was used *max_uses* times, or is
        older than *max_age*, or was idle for longer than *max_idle*.
        """
        if limits.max_uses is not None and self.uses >= limits.max_uses:
            return RetireReason.MAX_USES
        if limits.max_age is not None and now - self.created_at >= limits.max_age:
            return RetireReason.MAX_AGE
        if limits.max_idle is not None and now - self.last_use >= limits.max_idle:
            return RetireReason.MAX_IDLE
        return None

    def turn_limit(self, start: float, limits: Limits) -> RetireReason | None:
        """Return the limit that a turn starting at *start* would pass, if any.

        Booked turns count as uses, so that the session is never booked past
        *max_uses*; a turn must also start before *max_age*.
        """
        if limits.max_uses is not None and self.committed_uses >= limits.max_uses:
            return RetireReason.MAX_USES
        if limits.max_age is not None and start - self.created_at >= limits.max_age:
            return RetireReason.MAX_AGE
        return None

    def renewal_due(self, start: float, limits: Limits) -> RetireReason | None:
        """Return the limit that a use starting at *start* comes close to."""
        if limits.max_uses is not None and self.committed_uses + 1 >= math.ceil(
            limits.max_uses * limits.renew_at
        ):
            return RetireReason.MAX_USES
        if (
            limits.max_age is not None
            and start - self.created_at >= limits.max_age * limits.renew_at
        ):
            return RetireReason.MAX_AGE
        return None

    def record_error(self, max_errors: int) -> bool:
        """Count an error; return ``True`` if the session must go."""
        self.errors += 1
        return self.errors >= max(1, max_errors)

    def record_check_failure(self, max_check_failures: int) -> bool:
        """Count a failed use check; return ``True`` if the session must go."""
        self.check_failures += 1
        return self.check_failures >= max(1, max_check_failures)

    def record_success(self, forgiveness: float, sent_at: float = 0.0) -> None:
        """Count a good response to a request sent at *sent_at*: forgive
        *forgiveness* errors and failures."""
        self.good_uses += 1
        self.last_good = max(self.last_good, sent_at)
        if forgiveness:
            self.errors = max(0.0, self.errors - forgiveness)
            self.check_failures = max(0.0, self.check_failures - forgiveness)

    def retire(self, reason: RetireReason) -> bool:
        """End the session; return ``False`` if it had already ended."""
        if self.retire_reason is not None:
            return False
        self.retire_reason = reason
        self.cookies = ()
        self.state = None
        return True
