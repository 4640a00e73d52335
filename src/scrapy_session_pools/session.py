"""Session: one client identity in a pool, with its counters and lifecycle."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class RetireReason(enum.Enum):
    """Why a session left its pool."""

    #: Too many download errors (Zyte API 520/521).
    ERRORS = "errors"
    #: Too many failed use checks.
    CHECK_FAILURES = "check-failures"
    #: A use check raised an exception.
    CHECK_ERROR = "check-error"
    #: The server said the session expired.
    EXPIRED = "expired"
    #: The pool closed.
    CLOSED = "closed"


@dataclass(slots=True, eq=False)
class Session:
    """A session of a pool.

    *id* is the session ID sent to the server, *pool_id* the pool the session
    belongs to, *created_at* the monotonic time of its creation. The other
    fields change as the session is used; :meth:`retire` ends it.
    """

    id: str
    pool_id: str
    created_at: float
    #: Monotonic time before which the session must not start another use.
    next_use: float = 0.0
    #: Number of requests the session has been reserved for.
    uses: int = 0
    #: Download errors seen with this session.
    errors: int = 0
    #: Failed use checks seen with this session.
    check_failures: int = 0
    #: Why the session ended, or ``None`` while it is alive.
    retire_reason: RetireReason | None = None
    #: Cookies of the session in cookie mode (Zyte API ``responseCookies``).
    cookies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_alive(self) -> bool:
        """Whether the session can still be used."""
        return self.retire_reason is None

    def reserve(self, now: float, delay: float) -> float:
        """Reserve the next use of the session and return when it may start.

        A use starts no sooner than :attr:`next_use`; the use after it may
        start *delay* seconds after this one.
        """
        start = max(now, self.next_use)
        self.next_use = start + delay
        self.uses += 1
        return start

    def record_error(self, max_errors: int) -> bool:
        """Count a download error; return ``True`` if the session must go."""
        self.errors += 1
        return self.errors >= max(1, max_errors)

    def record_check_failure(self, max_check_failures: int) -> bool:
        """Count a failed use check; return ``True`` if the session must go."""
        self.check_failures += 1
        return self.check_failures >= max(1, max_check_failures)

    def retire(self, reason: RetireReason) -> bool:
        """End the session; return ``False`` if it had already ended."""
        if self.retire_reason is not None:
            return False
        self.retire_reason = reason
        self.cookies = []
        return True
