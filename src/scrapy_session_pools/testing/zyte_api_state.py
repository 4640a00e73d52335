"""What the fake Zyte API remembers, and its rules for creating and using sessions."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scrapy_session_pools.testing.faults import FaultCounts
from scrapy_session_pools.testing.zyte_api_requests import (
    OVER_SESSION_LIMIT,
    SESSION_CREATION_ERROR,
    SESSION_EXPIRED,
    TEMPORARY_ERROR,
    _Problem,
)

if TYPE_CHECKING:
    from scrapy_session_pools.testing.zyte_api_requests import _Options, _Scenario

logger = logging.getLogger(__name__)


@dataclass(slots=True, eq=False)
class _Session:
    id: str
    created_at: float
    last_used: float
    uses: int = 0
    location: dict[str, Any] = field(default_factory=dict)
    is_banned: bool = False


@dataclass(slots=True, eq=False)
class _State:
    """Everything the server saw since it started or was last reset."""

    sessions: dict[str, _Session] = field(default_factory=dict)
    dead_session_ids: set[str] = field(default_factory=set)
    sessions_created: int = 0
    creation_attempts: dict[str, int] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    faults: FaultCounts = field(default_factory=FaultCounts)

    def to_json(self, now: float) -> dict[str, Any]:
        return {
            "requests": len(self.log),
            "sessions_created": self.sessions_created,
            "live_sessions": {
                session.id: {
                    "uses": session.uses,
                    "age": now - session.created_at,
                    "location": session.location,
                    "banned": session.is_banned,
                }
                for session in self.sessions.values()
            },
            "dead_sessions": len(self.dead_session_ids),
            "faults": self.faults.total,
            "log": self.log,
        }

    def open_session(
        self,
        session_id: str,
        url: str,
        options: _Options,
        scenario: _Scenario,
        now: float,
    ) -> tuple[_Session, bool]:
        """Return session *session_id* and whether this request created it.

        A new session is created for a request to *url*. Raise the problem to
        answer instead if the session is dead or expired, or cannot be
        created.
        """
        if session_id in self.dead_session_ids:
            raise _Problem(SESSION_EXPIRED, f"Session {session_id!r} has expired.")
        session = self.sessions.get(session_id)
        if session is None:
            return self._create_session(session_id, url, scenario, now), True
        if options.session_max_age is not None and (
            now - session.created_at > options.session_max_age
        ):
            raise self._kill(session, f"older than {options.session_max_age} s")
        if options.session_max_idle is not None and (
            now - session.last_used > options.session_max_idle
        ):
            raise self._kill(
                session, f"idle for more than {options.session_max_idle} s"
            )
        return session, False

    def use_session(self, session: _Session, scenario: _Scenario, now: float) -> None:
        """Count a use of *session*.

        Raise the problem to answer instead if the session is banned, or
        this use bans it or makes it expire.
        """
        session.uses += 1
        session.last_used = now
        if session.is_banned:
            raise _Problem(TEMPORARY_ERROR, f"Session {session.id!r} is banned.")
        if scenario.expire_after is not None and session.uses > scenario.expire_after:
            raise self._kill(session, f"used more than {scenario.expire_after} times")
        if scenario.ban_after is not None and session.uses > scenario.ban_after:
            session.is_banned = True
            logger.debug(
                "Session %s banned after %s uses", session.id, scenario.ban_after
            )
            raise _Problem(TEMPORARY_ERROR, f"Session {session.id!r} got banned.")

    def _create_session(
        self, session_id: str, url: str, scenario: _Scenario, now: float
    ) -> _Session:
        attempt = self.creation_attempts.get(url, 0) + 1
        self.creation_attempts[url] = attempt
        if attempt <= scenario.over_session_limit:
            raise _Problem(OVER_SESSION_LIMIT, f"Too many sessions for {url}.")
        if attempt <= scenario.over_session_limit + scenario.creation_error:
            raise _Problem(
                SESSION_CREATION_ERROR, f"Could not create a session for {url}."
            )
        session = _Session(id=session_id, created_at=now, last_used=now)
        self.sessions[session_id] = session
        self.sessions_created += 1
        logger.debug("Session %s created for %s", session_id, url)
        return session

    def _kill(self, session: _Session, reason: str) -> _Problem:
        """Delete *session*, remember it as dead; return the problem to answer."""
        del self.sessions[session.id]
        self.dead_session_ids.add(session.id)
        logger.debug("Session %s expired: %s", session.id, reason)
        return _Problem(SESSION_EXPIRED, f"Session {session.id!r} expired: {reason}.")
