"""Zyte API sessions: session IDs and cookie mode in Zyte API parameters."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from tenacity import retry_base, retry_if_exception
from zyte_api import AggressiveRetryFactory, RequestError, RetryFactory

from scrapy_session_pools import meta
from scrapy_session_pools.cookies import cookies_for_url, merge_cookies

from . import InitFailure, Outcome

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.http import Response
    from tenacity import AsyncRetrying

    from scrapy_session_pools.session import Session

SESSION_EXPIRED = "/problem/session-expired"
OVER_SESSION_LIMIT = "/problem/over-session-limit"
SESSION_CREATION_ERROR = "/problem/session-creation-error"
DOWNLOAD_ERROR_STATUSES = frozenset({520, 521})


def _problem_type(exception: BaseException) -> str | None:
    if not isinstance(exception, RequestError):
        return None
    try:
        return exception.parsed.type
    except (ValueError, TypeError, AttributeError):
        return None


def _is_session_error(exception: BaseException) -> bool:
    """Errors the session middleware handles, never retried by the client."""
    if not isinstance(exception, RequestError):
        return False
    if exception.status in DOWNLOAD_ERROR_STATUSES:
        return True
    return _problem_type(exception) in {SESSION_EXPIRED, SESSION_CREATION_ERROR}


_SESSION_SAFE_CONDITION: retry_base = RetryFactory.retry_condition & retry_if_exception(
    lambda exception: not _is_session_error(exception)
)


class SessionRetryFactory(RetryFactory):
    """Zyte API's default retry policy, minus the errors sessions handle."""

    retry_condition = _SESSION_SAFE_CONDITION


class AggressiveSessionRetryFactory(AggressiveRetryFactory):
    """Zyte API's aggressive retry policy, minus the errors sessions handle."""

    retry_condition = _SESSION_SAFE_CONDITION


#: Zyte API's default retry policy, except that download errors (520, 521)
#: and session creation errors are not retried with the same session.
SESSION_DEFAULT_RETRY_POLICY: AsyncRetrying = SessionRetryFactory().build()
#: Zyte API's aggressive retry policy, with the same exceptions as
#: :data:`SESSION_DEFAULT_RETRY_POLICY`.
SESSION_AGGRESSIVE_RETRY_POLICY: AsyncRetrying = AggressiveSessionRetryFactory().build()


class ZyteAPIBackend:
    """Sessions of Zyte API requests.

    The session goes into the ``session`` parameter of the Zyte API request
    (``zyte_api``, or ``zyte_api_automap`` in transparent mode) and of
    ``zyte_api_provider``; in cookie mode, the session's cookies go into
    ``requestCookies`` instead.
    """

    def __init__(self, *, transparent_mode: bool, is_transport: bool) -> None:
        self._transparent_mode = transparent_mode
        self._is_transport = is_transport

    def params_key(self, request: Request) -> str:
        """Return the meta key that receives the session of *request*.

        As in scrapy-zyte-api: ``zyte_api`` if the request has that key, or
        ``zyte_api_automap`` set to ``False``, or neither key outside
        transparent mode; ``zyte_api_automap`` otherwise.
        """
        request_meta = request.meta
        if "zyte_api" in request_meta:
            return "zyte_api"
        if "zyte_api_automap" in request_meta:
            if request_meta["zyte_api_automap"] is False:
                return "zyte_api"
            return "zyte_api_automap"
        return "zyte_api_automap" if self._transparent_mode else "zyte_api"

    def handles(self, request: Request) -> bool:
        """Return whether Zyte API sessions are the default for *request*.

        They are for every request when scrapy-zyte-api's download handler
        is the transport of the crawl, as in scrapy-zyte-api: a session in
        ``zyte_api`` turns a plain request into a Zyte API request.
        """
        return self._is_transport

    def apply(self, session: Session, request: Request, *, cookie_mode: bool) -> None:
        """Put *session* into the Zyte API parameters of *request*.

        Nested dicts are replaced by copies, never changed in place, because
        ``Request.replace()`` shares them with other requests.
        """
        key = self.params_key(request)
        for meta_key in (key, "zyte_api_provider"):
            current = request.meta.get(meta_key)
            params = dict(current) if isinstance(current, dict) else {}
            if cookie_mode:
                params["requestCookies"] = self._request_cookies(
                    session, request, params.get("requestCookies")
                )
                params["responseCookies"] = True
            else:
                params["session"] = {"id": session.id}
            request.meta[meta_key] = params
        if cookie_mode:
            request.meta[meta.COOKIE_SESSION_ID_META_KEY] = session.id

    @staticmethod
    def _request_cookies(session: Session, request: Request, own: Any) -> list[Any]:
        """The session cookies for *request*, plus cookies the request set."""
        cookies = cookies_for_url(session.cookies, request.url, time.time())
        if isinstance(own, list):
            names = {
                (c.get("name"), c.get("domain")) for c in own if isinstance(c, dict)
            }
            cookies = [c for c in cookies if (c["name"], c["domain"]) not in names]
            cookies.extend(own)
        return cookies

    def session_id(self, request: Request) -> str | None:
        """Return the session ID of *request*, without logging if none."""
        return meta.find_zyte_api_session_id(request)

    def update(
        self, session: Session, response: Response, request: Request | None = None
    ) -> None:
        """Merge the ``responseCookies`` of *response* into *session*'s jar."""
        raw = getattr(response, "raw_api_response", None)
        if not isinstance(raw, dict) or not isinstance(
            raw.get("responseCookies"), list
        ):
            return
        session.cookies = merge_cookies(
            session.cookies, raw["responseCookies"], time.time()
        )

    def start(self, session: Session, cookies: Any = ()) -> None:
        """Give a new *session* the cookies of a seed (cookie mode)."""
        session.cookies = [dict(cookie) for cookie in cookies]

    def judge(self, response: Response) -> None:
        """Zyte API reports bans as errors, not as responses."""
        return

    def replace_cookies(self, session: Session, response: Response) -> None:
        """Make the ``responseCookies`` of *response* the jar of *session*."""
        session.cookies = []
        self.update(session, response)

    def classify(self, exception: BaseException) -> Outcome | None:
        """Map a Zyte API error to what it says about the session."""
        if not isinstance(exception, RequestError):
            return None
        problem = _problem_type(exception)
        if problem == SESSION_EXPIRED:
            return Outcome.EXPIRED
        if (
            exception.status in DOWNLOAD_ERROR_STATUSES
            or problem == SESSION_CREATION_ERROR
        ):
            return Outcome.ERROR
        return None

    def classify_init(self, exception: BaseException) -> InitFailure | None:
        """Map a Zyte API error of an init request to a retry-later failure."""
        problem = _problem_type(exception)
        if problem == OVER_SESSION_LIMIT:
            return InitFailure.OVER_LIMIT
        if problem == SESSION_CREATION_ERROR:
            return InitFailure.SERVER_ERROR
        return None
