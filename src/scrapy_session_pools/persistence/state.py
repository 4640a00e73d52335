"""Dumping pools to a JSON-compatible state, and sessions back from it."""

from __future__ import annotations

import json
import logging
import math
import time
from typing import TYPE_CHECKING, Any

from scrapy_session_pools.identities import Profile
from scrapy_session_pools.lifetimes import LearnedLimits
from scrapy_session_pools.session import Session

if TYPE_CHECKING:
    from collections.abc import Iterable

    from scrapy_session_pools.backends import Backends, SessionBackend
    from scrapy_session_pools.pool import Pool

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
                "learned": pool.learned.to_json(),
            }
            for pool in pools
            if len(pool) or pool.learned.to_json()
        ],
    }


def saved_learned(state: dict[str, Any] | None) -> dict[tuple[str, str], LearnedLimits]:
    """Index the limits that the pools of *state* had learned (see
    :mod:`~scrapy_session_pools.lifetimes`); bad values are left out."""
    result = {}
    for pool in (state or {}).get("pools", []):
        learned = pool.get("learned") if isinstance(pool, dict) else None
        if not isinstance(learned, dict):
            continue
        uses: Any = learned.get("max_uses")
        age: Any = learned.get("max_age")
        result[str(pool.get("kind")), str(pool.get("id"))] = LearnedLimits(
            max_uses=uses if _is_number(uses, integer=True) and uses > 0 else None,
            max_age=float(age) if _is_number(age) and age > 0 else None,
        )
    return result


def saved_sessions(state: dict[str, Any] | None) -> dict[tuple[str, str], list[Any]]:
    """Index the saved sessions of *state* by (kind, pool ID)."""
    result: dict[tuple[str, str], list[Any]] = {}
    for pool in (state or {}).get("pools", []):
        if isinstance(pool, dict) and isinstance(pool.get("sessions"), list):
            result[str(pool.get("kind")), str(pool.get("id"))] = pool["sessions"]
        else:
            logger.warning(
                "Skipping a saved pool that is not an object with a list of "
                "sessions: %r",
                pool,
            )
    return result


def _is_number(value: Any, *, integer: bool = False) -> bool:
    kinds = (int,) if integer else (int, float)
    return (
        isinstance(value, kinds)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


def _is_cookie(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(value.get(key), str) for key in ("name", "value", "domain")
    )


def record_problem(saved: Any) -> str | None:
    """Say what is wrong in a saved session record, or ``None``."""
    if not isinstance(saved, dict):
        return f"a session must be an object, got {saved!r}"
    checks = (
        ("id", isinstance(saved.get("id"), str) and saved.get("id"), "a string"),
        ("age", _is_number(saved.get("age")), "a number of seconds"),
        ("idle", _is_number(saved.get("idle")), "a number of seconds"),
        ("uses", _is_number(saved.get("uses"), integer=True), "an integer"),
        ("errors", _is_number(saved.get("errors", 0)), "a number"),
        (
            "check_failures",
            _is_number(saved.get("check_failures", 0)),
            "a number",
        ),
        (
            "cookies",
            isinstance(saved.get("cookies", []), list)
            and all(_is_cookie(c) for c in saved.get("cookies", [])),
            "a list of cookies with a name, value and domain",
        ),
        (
            "profile",
            saved.get("profile") is None or isinstance(saved["profile"], dict),
            "an object or null",
        ),
        (
            "data",
            saved.get("data") is None or isinstance(saved["data"], dict),
            "an object or null",
        ),
    )
    for field, is_valid, expected in checks:
        if not is_valid:
            return f"{field!r} must be {expected}, got {saved.get(field)!r}"
    return None


def load_session(saved: Any, pool: Pool, elapsed: float, now: float) -> Session | None:
    """Rebuild a saved session for *pool*, or ``None`` if it is past a limit.

    *elapsed* is the time since the state was saved; the session aged by
    that much meanwhile. A damaged record is skipped with a warning that
    names the pool, the session and the field.
    """
    problem = record_problem(saved)
    if problem is not None:
        session_id = saved.get("id") if isinstance(saved, dict) else None
        logger.warning(
            "Skipping saved session %s of pool %s: %s",
            session_id,
            pool.id,
            problem,
        )
        return None
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
