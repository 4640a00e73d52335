"""Zyte API sessions: session IDs and cookie mode in Zyte API parameters."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from scrapy import Request
from scrapy.http.request import NO_CALLBACK
from tenacity import retry_base, retry_if_exception
from zyte_api import AggressiveRetryFactory, RequestError, RetryFactory

from scrapy_session_pools import meta
from scrapy_session_pools.cookies import cookies_for_url, merge_cookies

from . import InitFailure, Outcome, SessionKind

if TYPE_CHECKING:
    from collections.abc import Iterable

    from scrapy.http import Response
    from tenacity import AsyncRetrying

    from scrapy_session_pools.pool_options import PoolOptions
    from scrapy_session_pools.session import Limits, Session

logger = logging.getLogger(__name__)

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


#: Limits of Zyte API sessions that no setting sets: Zyte API ends a session
#: 15 minutes after its creation or after 2 minutes without use; these leave
#: a safety margin.
DEFAULT_MAX_AGE = 14 * 60.0
DEFAULT_MAX_IDLE = 100.0


class ZyteAPIBackend:
    """Sessions of Zyte API requests.

    The session goes into the ``session`` parameter of the Zyte API request
    (``zyte_api``, or ``zyte_api_automap`` in transparent mode) and of
    ``zyte_api_provider``; in cookie mode, the session's cookies go into
    ``requestCookies`` instead. *transparent_mode* is
    :setting:`ZYTE_API_TRANSPARENT_MODE`; *retry_policy* the retry policy of
    requests with a session (:setting:`ZYTE_API_SESSION_RETRY_POLICY`).
    """

    kind = SessionKind.ZYTE_API
    has_cookie_mode = True

    def __init__(self, *, transparent_mode: bool, retry_policy: Any) -> None:
        self._transparent_mode = transparent_mode
        self._retry_policy = retry_policy

    def limits(self, options: PoolOptions) -> Limits:
        """Zyte API ends sessions on its own: limits default below its own."""
        return options.limits(
            default_max_age=DEFAULT_MAX_AGE, default_max_idle=DEFAULT_MAX_IDLE
        )

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
        # Download errors (520, 521) must reach the session middleware.
        request.meta.setdefault(meta.RETRY_POLICY, self._retry_policy)

    def reapply(self, session: Session, request: Request) -> None:
        """A redirect keeps the Zyte API parameters it was copied with."""

    def prepare_init(
        self, session: Session, request: Request, *, cookie_mode: bool
    ) -> Request:
        """Send an init request with the session (or its ID in cookie mode).

        A ``"session"`` parameter already set is kept; ``None`` removes it,
        for init requests that must not have one.
        """
        init_meta = dict(request.meta)
        init_meta.setdefault(meta.RETRY_POLICY, self._retry_policy)
        if cookie_mode:
            # Cookie mode sends the cookies of the session, not its ID.
            init_meta.setdefault(meta.COOKIE_SESSION_ID_META_KEY, session.id)
            return request.replace(meta=init_meta)
        current = init_meta.get("zyte_api")
        params = dict(current) if isinstance(current, dict) else {}
        if "session" not in params:
            params["session"] = {"id": session.id}
        elif params["session"] is None:
            del params["session"]
        init_meta["zyte_api"] = params
        return request.replace(meta=init_meta)

    @staticmethod
    def init_request(
        url: str, params: dict[str, Any], request: Request, *, cookie_mode: bool
    ) -> Request:
        """Build the default init request of a session with Zyte API *params*.

        In cookie mode, ``responseCookies`` is forced to ``True`` (an error
        is logged if *params* set it to a false value) and no session ID is
        sent.
        """
        init_meta: dict[str, Any] = {}
        if cookie_mode:
            if "responseCookies" in params and not params["responseCookies"]:
                logger.error(
                    "The cookie session initialization parameters of %s set "
                    "responseCookies to %r; forcing it to True, since cookie "
                    "mode keeps the cookies of init responses.",
                    request,
                    params["responseCookies"],
                )
            params["responseCookies"] = True
            params.pop("session", None)
        init_meta["zyte_api"] = params
        for key in (meta.LOCATION, meta.PARAMS):
            if key in request.meta:
                init_meta[key] = request.meta[key]
        return Request(url, meta=init_meta, callback=NO_CALLBACK)

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

    def observe(self, session: Session, response: Response, request: Request) -> None:
        """Zyte API sessions keep their state server-side."""

    def keep(self, session: Session, response: Response, request: Request) -> None:
        """In cookie mode, merge the ``responseCookies`` of *response*."""
        if meta.COOKIE_SESSION_ID_META_KEY in request.meta:
            self._merge_cookies(session, response)

    def finish_init(
        self, session: Session, responses: list[Response], *, cookie_mode: bool
    ) -> None:
        """In cookie mode, the cookies of the last init response are the jar."""
        if cookie_mode and responses:
            session.cookies = []
            self._merge_cookies(session, responses[-1])

    @staticmethod
    def _merge_cookies(session: Session, response: Response) -> None:
        raw = getattr(response, "raw_api_response", None)
        if not isinstance(raw, dict) or not isinstance(
            raw.get("responseCookies"), list
        ):
            return
        session.cookies = merge_cookies(
            session.cookies, raw["responseCookies"], time.time()
        )

    def start(self, session: Session, cookies: Iterable[dict[str, Any]] = ()) -> None:
        """Give a new *session* the cookies of a seed (cookie mode)."""
        session.cookies = [dict(cookie) for cookie in cookies] if cookies else ()

    def export_cookies(self, session: Session) -> list[dict[str, Any]]:
        """Return the cookie-mode cookies of *session*."""
        return [dict(cookie) for cookie in session.cookies]

    def judge(self, response: Response) -> None:
        """Zyte API reports bans as errors, not as responses."""
        return

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
