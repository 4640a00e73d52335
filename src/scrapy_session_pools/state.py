"""Dumping pools to a JSON-compatible state, and sessions back from it."""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

from .identities import Profile
from .session import Session

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .backends import Backends, SessionBackend
    from .pool import Pool

logger = logging.getLogger(__name__)


def _json_data(session: Session, pool: Pool) -> dict[str, Any]:
    """A copy of the user data of *session*, shared with nothing (the state
    may be written by another thread), or ``{}`` if it is not JSON."""
    try:
        text = json.dumps(session.data)
    except (TypeError, ValueError):
        logger.warning(
            "The user data of session %s of pool %s is not JSON-serializable "
            "and is not saved.",
            session.id,
            pool.id,
        )
        return {}
    data: dict[str, Any] = json.loads(text)
    return data


def dump_session(
    session: Session, pool: Pool, backend: SessionBackend, now: float
) -> dict[str, Any]:
    """Return the saved form of *session*; times become ages in seconds."""
    profile = session.profile
    return {
        "id": session.id,
        "age": max(0.0, now - session.created_at),
        "idle": max(0.0, now - session.last_use),
        "uses": session.uses,
        "errors": session.errors,
        "check_failures": session.check_failures,
        "cookies": backend.export_cookies(session),
        "profile": (
            {
                "name": profile.name,
                "proxy": profile.proxy,
                "headers": dict(profile.headers),
            }
            if isinstance(profile, Profile)
            else None
        ),
        "data": _json_data(session, pool),
    }


def dump_pools(pools: Iterable[Pool], backends: Backends) -> dict[str, Any]:
    """Return the state of the live sessions of *pools*."""
    now = time.monotonic()
    return {
        "saved_at": time.time(),
        "pools": [
            {
                "id": pool.id,
                "kind": pool.kind.value,
                "sessions": [
                    dump_session(s, pool, backends[pool.kind], now) for s in pool
                ],
            }
            for pool in pools
            if len(pool)
        ],
    }


def saved_sessions(state: dict[str, Any] | None) -> dict[tuple[str, str], list[Any]]:
    """Index the saved sessions of *state* by (kind, pool ID)."""
    result: dict[tuple[str, str], list[Any]] = {}
    for pool in (state or {}).get("pools", []):
        if isinstance(pool, dict) and isinstance(pool.get("sessions"), list):
            result[str(pool.get("kind")), str(pool.get("id"))] = pool["sessions"]
    return result


def load_session(
    saved: dict[str, Any], pool: Pool, elapsed: float, now: float
) -> Session | None:
    """Rebuild a saved session for *pool*, or ``None`` if it is past a limit.

    *elapsed* is the time since the state was saved; the session aged by
    that much meanwhile.
    """
    try:
        profile_data = saved.get("profile")
        session = Session(
            id=str(saved["id"]),
            pool_id=pool.id,
            created_at=now - float(saved["age"]) - elapsed,
            last_use=now - float(saved["idle"]) - elapsed,
            uses=int(saved["uses"]),
            errors=float(saved.get("errors", 0)),
            check_failures=float(saved.get("check_failures", 0)),
            profile=(
                Profile.from_mapping(profile_data, 0)
                if isinstance(profile_data, dict)
                else None
            ),
            data=dict(saved.get("data") or {}),
        )
    except (KeyError, TypeError, ValueError) as error:
        logger.warning("Skipping a saved session of pool %s: %r", pool.id, error)
        return None
    if session.limit_reached(now, pool.limits) is not None:
        return None
    return session
