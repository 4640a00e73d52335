"""What the session-gated test website remembers, and its rules for using a session."""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from scrapy_session_pools.testing.faults import FaultCounts
from scrapy_session_pools.testing.site_requests import _identity_of, _Refusal

if TYPE_CHECKING:
    from aiohttp import web

    from scrapy_session_pools.testing.site_requests import Identity, _Knobs, _Options

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


@dataclass(slots=True, eq=False)
class _Session:
    id: str
    created_at: float
    identity: Identity
    last_use: float | None = None
    uses: int = 0
    is_banned: bool = False
    is_logged_in: bool = False


@dataclass(slots=True, eq=False)
class _State:
    """Everything the server saw since it started or was last reset."""

    sessions: dict[str, _Session] = field(default_factory=dict)
    sessions_created: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)
    faults: FaultCounts = field(default_factory=FaultCounts)

    def create_session(self, identity: Identity, *, is_logged_in: bool) -> _Session:
        session = _Session(
            id=secrets.token_hex(8),
            created_at=time.monotonic(),
            identity=identity,
            is_logged_in=is_logged_in,
        )
        self.sessions[session.id] = session
        self.sessions_created += 1
        logger.debug("Session %s created for %r", session.id, identity)
        return session

    def use_session(
        self,
        session_id: str | None,
        identity: Identity,
        options: _Options,
        knobs: _Knobs,
    ) -> _Session:
        """Return session *session_id* after counting this use of it.

        *identity* is that of the request. A knob of the page URL overrides
        the option of the same name. Raise the refusal to answer instead if
        the session cannot be used.
        """
        session = self.sessions.get(session_id or "")
        if session is None:
            raise _Refusal(401, "login required")
        now = time.monotonic()
        expire_after = _first(knobs.expire_after, options.expire_after)
        if expire_after is not None and now - session.created_at > expire_after:
            del self.sessions[session.id]
            logger.debug("Session %s expired after %s s", session.id, expire_after)
            raise _Refusal(401, "session expired")
        uses = session.uses + 1
        if identity != session.identity:
            _ban(session, uses, now, "identity mismatch")
        ban_after = _first(knobs.ban_after, options.ban_after)
        if session.is_banned or (ban_after is not None and uses > ban_after):
            _ban(session, uses, now, "banned")
        min_interval = _first(knobs.min_interval, options.min_interval)
        if session.last_use is not None and now - session.last_use < min_interval:
            raise _Refusal(
                429, "slow down", {"Retry-After": knobs.retry_after_header()}
            )
        session.uses, session.last_use = uses, now
        return session

    def record(
        self,
        request: web.Request,
        session_id: str | None,
        response: web.StreamResponse,
    ) -> None:
        """Add the log entry of *request*, answered with *response*."""
        self.log.append(
            {
                "path": request.raw_path,
                "session": session_id,
                "identity": list(_identity_of(request)),
                "status": response.status,
                "time": time.monotonic(),
            }
        )

    def to_json(self, now: float) -> dict[str, Any]:
        return {
            "sessions_created": self.sessions_created,
            "live_sessions": {
                session.id: {
                    "uses": session.uses,
                    "age": now - session.created_at,
                    "identity": list(session.identity),
                    "banned": session.is_banned,
                    "logged_in": session.is_logged_in,
                }
                for session in self.sessions.values()
            },
            "requests": len(self.log),
            "faults": self.faults.total,
            "log": self.log,
        }


def _ban(session: _Session, uses: int, now: float, reason: str) -> None:
    """Count the use of *session*, ban it, and raise the 403 refusal."""
    session.uses, session.last_use = uses, now
    if not session.is_banned:
        session.is_banned = True
        logger.debug("Session %s banned: %s", session.id, reason)
    raise _Refusal(403, reason)


def _first(knob: _T | None, option: _T) -> _T:
    """Return the knob value if the URL had it, else the option value."""
    return option if knob is None else knob
