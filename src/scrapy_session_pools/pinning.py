"""Pinned requests: a chain of requests that must use one given session."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy.exceptions import IgnoreRequest

from . import meta, stats

if TYPE_CHECKING:
    from scrapy import Request

    from .pool import Pool
    from .session import Session
    from .stats import SessionStats

logger = logging.getLogger(__name__)

PIN_POLICIES = ("fail", "renew")


async def acquire_pinned(
    pool: Pool, request: Request, session_id: str, session_stats: SessionStats
) -> Session:
    """Return the session *session_id* of *pool* for the pinned *request*.

    If that session has ended, or cannot take another turn within its
    limits, the :reqmeta:`zyte_api_session_pin_policy` of the request
    decides: ``"fail"`` (the default) drops the request with
    :exc:`~scrapy.exceptions.IgnoreRequest`, ``"renew"`` gives it (and the
    rest of its chain, through its meta) a new session.
    """
    session = pool.get(session_id)
    if session is not None:
        served = await pool.acquire_session(session, request)
        if served is not None:
            return served
    session_stats.increment(stats.USE_PIN_LOST, pool.id)
    policy = request.meta.get(meta.PIN_POLICY, "fail")
    if policy not in PIN_POLICIES:
        logger.error(
            "%s has zyte_api_session_pin_policy=%r; expected 'fail' or "
            "'renew'. Failing it.",
            request,
            policy,
            extra={"pool": pool.id},
        )
    if policy != "renew":
        raise IgnoreRequest(
            f"{request} is pinned to session {session_id} of pool {pool.id}, "
            f"which has ended (zyte_api_session_pin_policy={policy!r})"
        )
    renewed = await pool.acquire_new(request)
    request.meta[meta.PINNED_SESSION] = renewed.id
    logger.debug(
        "Pinned session %s of pool %s had ended; %s continues with the new session %s",
        session_id,
        pool.id,
        request,
        renewed.id,
        extra={"pool": pool.id},
    )
    return renewed
