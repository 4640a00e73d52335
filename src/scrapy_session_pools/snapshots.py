"""PoolInfo and SessionInfo: read-only snapshots of pools and sessions."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .identities import redact_proxy

if TYPE_CHECKING:
    from .pool import Pool
    from .session import Session


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """The state of a session when the snapshot was taken.

    *age* and *idle* are seconds since its creation and since its last use;
    *errors* and *check_failures* its error score and failed checks (after
    decay); *profile* the name of its profile and *proxy* its proxy without
    credentials, if any.
    """

    id: str
    pool: str
    kind: str
    age: float
    idle: float
    uses: int
    errors: float
    check_failures: float
    in_flight: int
    is_alive: bool
    retire_reason: str | None
    profile: str | None
    proxy: str | None

    @classmethod
    def of(cls, session: Session, pool: Pool, now: float | None = None) -> SessionInfo:
        """Return a snapshot of *session* of *pool*."""
        now = time.monotonic() if now is None else now
        profile = session.profile
        return cls(
            id=session.id,
            pool=pool.id,
            kind=pool.kind,
            age=max(0.0, now - session.created_at),
            idle=max(0.0, now - session.last_use),
            uses=session.uses,
            errors=session.errors,
            check_failures=session.check_failures,
            in_flight=session.in_flight,
            is_alive=session.is_alive,
            retire_reason=(
                session.retire_reason.value if session.retire_reason else None
            ),
            profile=getattr(profile, "name", None),
            proxy=redact_proxy(getattr(profile, "proxy", None)),
        )


@dataclass(frozen=True, slots=True)
class PoolInfo:
    """The state of a pool when the snapshot was taken.

    *sessions* are its live sessions; *retired* counts the sessions it
    retired, by reason; *learned* has the limits it learned (``max_uses``,
    ``max_age``; see :ref:`learned-limits`).
    """

    id: str
    kind: str
    size: int
    sessions: tuple[SessionInfo, ...]
    waiting: int
    creating: int
    created: int
    served: int
    retired: dict[str, int]
    learned: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, pool: Pool) -> PoolInfo:
        """Return a snapshot of *pool*."""
        now = time.monotonic()
        return cls(
            id=pool.id,
            kind=pool.kind,
            size=pool.options.size,
            sessions=tuple(SessionInfo.of(s, pool, now) for s in pool),
            waiting=pool.waiting,
            creating=pool.creating,
            created=pool.counts.created,
            served=pool.counts.served,
            retired={reason.value: n for reason, n in pool.counts.retired.items()},
            learned=pool.learned.to_json(),
        )
