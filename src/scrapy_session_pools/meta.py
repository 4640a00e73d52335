"""Request meta keys and the public helpers that read them."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrapy import Request

logger = logging.getLogger(__name__)

#: Set to ``True`` on session initialization requests.
SESSION_INIT_META_KEY = "_is_session_init_request"
#: The session ID of a request in cookie mode.
COOKIE_SESSION_ID_META_KEY = "_zyte_api_cookie_session_id"
#: Internal: the request already got its session (copies keep it).
ASSIGNED_META_KEY = "_session_pools_assigned"
#: Internal: the pool ID of the session a request was sent with.
POOL_META_KEY = "_session_pools_pool"
#: Internal: the kind of the session a request was sent with.
KIND_META_KEY = "_session_pools_kind"
#: Internal: the ID of the HTTP session a request was sent with.
SESSION_ID_META_KEY = "_session_pools_session_id"
#: Internal: the pool that counts the request as waiting in the scheduler.
SCHEDULED_POOL_META_KEY = "_session_pools_scheduled"
#: Internal: the token of the lease the request holds on its session.
LEASE_META_KEY = "_session_pools_lease"
#: Internal: the monotonic time at which the request was sent with its session.
SENT_AT = "_session_pools_sent_at"
#: The token of a request parked outside the downloader (see parking.py).
PARKED_META_KEY = "_session_pools_parked"
#: Set on a request that is leaving the downloader to be parked.
LEAVING_META_KEY = "_session_pools_leaving"
#: The priority and dont_filter of a parked request, restored on its return.
BACK_META_KEY = "_session_pools_back"
#: Set on a request answered after its session had already retired: its
#: retry does not count against RETRY_TIMES (see retries.rst).
LATE_META_KEY = "_session_pools_late"
#: How many retries of a request did not count against RETRY_TIMES.
FREE_RETRIES_META_KEY = "_session_pools_free_retries"

ENABLED = "zyte_api_session_enabled"
POOL = "zyte_api_session_pool"
PARAMS = "zyte_api_session_params"
LOCATION = "zyte_api_session_location"
COOKIE_MODE = "zyte_api_session_cookie_mode"
KIND = "zyte_api_session_kind"
#: Pins a request to the session with this ID (a chain of requests).
PINNED_SESSION = "zyte_api_session_id"
#: What happens when a pinned session has ended: "fail" or "renew".
PIN_POLICY = "zyte_api_session_pin_policy"
RETRY_POLICY = "zyte_api_retry_policy"
DONT_MERGE_COOKIES = "dont_merge_cookies"

#: Public meta keys that choose the session of a request.
SESSION_META_KEYS = (
    ENABLED,
    POOL,
    PARAMS,
    LOCATION,
    COOKIE_MODE,
    KIND,
    PINNED_SESSION,
    PIN_POLICY,
)

#: Meta keys holding Zyte API parameters, in the order they are searched.
ZYTE_API_META_KEYS = ("zyte_api", "zyte_api_automap", "zyte_api_provider")


def is_session_init_request(request: Request) -> bool:
    """Return ``True`` if *request* is a session initialization request.

    Session initialization requests are the requests that
    :meth:`~scrapy_session_pools.SessionConfig.init_session` sends to create a
    session; a :meth:`~scrapy_session_pools.SessionConfig.check` method can
    use this function to tell an init response from a regular one.
    """
    return request.meta.get(SESSION_INIT_META_KEY, False) is True


def get_request_session_id(request: Request) -> str | None:
    """Return the ID of the session that *request* was sent with.

    Returns ``None`` (and logs a warning) if the request has no session.
    """
    session_id = find_session_id(request)
    if session_id is None:
        log_missing_session_id(request)
    return session_id


def log_missing_session_id(request: Request) -> None:
    """Warn that *request*, which should have a session, has no session ID.

    The wording is scrapy-zyte-api's, which log monitoring may look for.
    """
    logger.warning(
        "Request %s had no session ID assigned, unexpectedly. If it is not "
        "your own code (e.g. a downloader middleware) that removed it, please "
        "report this as a bug of scrapy-session-pools.",
        request,
    )


def find_session_id(request: Request) -> str | None:
    """Return the session ID of *request* (HTTP or Zyte API), if any."""
    session_id = request.meta.get(SESSION_ID_META_KEY)
    if session_id:
        return str(session_id)
    return find_zyte_api_session_id(request)


def find_zyte_api_session_id(request: Request) -> str | None:
    """Return the Zyte API session ID of *request* (cookie mode too), if any."""
    cookie_session_id = request.meta.get(COOKIE_SESSION_ID_META_KEY)
    if cookie_session_id:
        return str(cookie_session_id)
    for key in ZYTE_API_META_KEYS:
        session_id = zyte_api_session_id(request.meta.get(key))
        if session_id is not None:
            return session_id
    return None


def zyte_api_session_id(params: Any) -> str | None:
    """Return the session ID inside a Zyte API parameter dict, if any."""
    if not isinstance(params, dict):
        return None
    session = params.get("session")
    if isinstance(session, dict) and session.get("id"):
        return str(session["id"])
    return None
