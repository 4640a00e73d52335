"""Plain-HTTP sessions: a cookie jar and a profile (proxy, headers) per session."""

from __future__ import annotations

import email.utils
import logging
import time
from http.cookiejar import Cookie
from typing import TYPE_CHECKING, Any

from scrapy import FormRequest, Request
from scrapy.http.cookies import CookieJar
from scrapy.http.request import NO_CALLBACK

from scrapy_session_pools import meta

from . import Outcome, SessionKind, Verdict

if TYPE_CHECKING:
    from collections.abc import Iterable

    from scrapy.http import Response

    from scrapy_session_pools.pool_options import PoolOptions
    from scrapy_session_pools.session import Limits, Session

logger = logging.getLogger(__name__)

#: Internal meta key: the proxy and header names set from a profile.
_PROFILE_META_KEY = "_session_pools_profile"

#: Parameters of the default init request of an HTTP session, besides url.
INIT_PARAMS = ("method", "headers", "body", "formdata")

#: Seconds a rate-limited session rests when the response has no
#: ``Retry-After`` header.
DEFAULT_RATE_LIMIT_PAUSE = 5.0


def retry_after_seconds(response: Response, now: float) -> float:
    """Return the pause that the ``Retry-After`` header of *response* asks for."""
    value = response.headers.get(b"Retry-After")
    if not value:
        return DEFAULT_RATE_LIMIT_PAUSE
    text = value.decode("latin-1").strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return DEFAULT_RATE_LIMIT_PAUSE
    return max(0.0, moment.timestamp() - now)


def _as_cookie(data: dict[str, Any]) -> Cookie:
    domain = str(data["domain"])
    expires = data.get("expires")
    return Cookie(
        version=0,
        name=str(data["name"]),
        value=str(data["value"]),
        port=None,
        port_specified=False,
        domain=domain,
        domain_specified=domain.startswith("."),
        domain_initial_dot=domain.startswith("."),
        path=str(data.get("path") or "/"),
        path_specified=True,
        secure=bool(data.get("secure", False)),
        expires=int(expires) if isinstance(expires, (int, float)) else None,
        discard=False,
        comment=None,
        comment_url=None,
        rest={},
    )


class HTTPBackend:
    """Sessions of plain HTTP requests.

    Each session has its own cookie jar (Scrapy's, with the standard cookie
    rules) and, optionally, a profile: a proxy and headers. Responses with a
    status code in *blocked_status_codes* ban the session; those in
    *rate_limit_status_codes* pause it for the ``Retry-After`` time;
    *connection_errors* (Scrapy's :setting:`RETRY_EXCEPTIONS`: connection
    errors, proxy tunnel errors, timeouts) count as errors of the session.
    """

    def __init__(
        self,
        *,
        blocked_status_codes: Iterable[int],
        rate_limit_status_codes: Iterable[int],
        connection_errors: tuple[type[BaseException], ...],
    ) -> None:
        self._blocked = frozenset(blocked_status_codes)
        self._rate_limited = frozenset(rate_limit_status_codes)
        self._connection_errors = connection_errors

    kind = SessionKind.HTTP
    has_cookie_mode = False

    def limits(self, options: PoolOptions) -> Limits:
        """HTTP sessions have only the limits that settings give them."""
        return options.limits()

    def start(self, session: Session, cookies: Iterable[dict[str, Any]] = ()) -> None:
        """Give a new *session* its cookie jar, with *cookies* in it."""
        jar = CookieJar()
        for cookie in cookies:
            jar.set_cookie(_as_cookie(cookie))
        session.state = jar

    def apply(self, session: Session, request: Request, *, cookie_mode: bool) -> None:
        """Send *request* with the cookies and profile of *session*."""
        jar = session.state
        if isinstance(jar, CookieJar):
            request.headers.pop(b"Cookie", None)
            jar.add_cookie_header(request)
        self._apply_profile(session, request)
        request.meta[meta.SESSION_ID_META_KEY] = session.id
        if "zyte_api" not in request.meta:
            # In scrapy-zyte-api's transparent mode, keep it off Zyte API.
            request.meta["zyte_api_automap"] = False

    @staticmethod
    def _apply_profile(session: Session, request: Request) -> None:
        """Set the proxy and headers of the session's profile on *request*.

        What a previous session of a retried request set is removed first, so
        that a request never mixes two identities.
        """
        previous = request.meta.pop(_PROFILE_META_KEY, None)
        if previous is not None:
            proxy, header_names = previous
            if proxy is not None and request.meta.get("proxy") == proxy:
                del request.meta["proxy"]
            for name in header_names:
                request.headers.pop(name, None)
        profile = session.profile
        if profile is None:
            return
        if profile.proxy:
            request.meta["proxy"] = profile.proxy
        for name, value in profile.headers:
            request.headers[name] = value
        request.meta[_PROFILE_META_KEY] = (
            profile.proxy,
            tuple(name for name, _ in profile.headers),
        )

    def reapply(self, session: Session, request: Request) -> None:
        """Refresh the cookies of a redirect or of a request of an init chain."""
        self.apply(session, request, cookie_mode=False)

    def prepare_init(
        self, session: Session, request: Request, *, cookie_mode: bool
    ) -> Request:
        """Mark an init request with its HTTP session.

        The middleware then applies the session's cookie jar and profile to
        each request of the chain, redirects included; the requests stay off
        Zyte API, and checks know that they are plain HTTP.
        """
        init_meta = dict(request.meta)
        init_meta[meta.SESSION_ID_META_KEY] = session.id
        init_meta[meta.KIND_META_KEY] = self.kind.value
        if "zyte_api" not in init_meta:
            init_meta["zyte_api_automap"] = False
        return request.replace(meta=init_meta)

    @staticmethod
    def init_request(url: str, params: dict[str, Any]) -> Request:
        """Build the default init request of an HTTP session from *params*.

        *params* may have ``method``, ``headers``, ``body`` and ``formdata``
        (which makes a form request, ``POST`` by default); anything else
        raises :exc:`ValueError`.
        """
        unknown = sorted(set(params) - set(INIT_PARAMS))
        if unknown:
            raise ValueError(
                f"unknown HTTP session parameter(s) {unknown} (expected some of "
                f"url, {', '.join(INIT_PARAMS)})"
            )
        # zyte_api_automap=False keeps the request off Zyte API in
        # transparent mode.
        init_meta = {
            meta.KIND_META_KEY: SessionKind.HTTP.value,
            "zyte_api_automap": False,
        }
        if "formdata" in params:
            return FormRequest(
                url,
                method=params.get("method", "POST"),
                formdata=params["formdata"],
                headers=params.get("headers"),
                meta=init_meta,
                callback=NO_CALLBACK,
            )
        return Request(
            url,
            method=params.get("method", "GET"),
            headers=params.get("headers"),
            body=params.get("body"),
            meta=init_meta,
            callback=NO_CALLBACK,
        )

    def session_id(self, request: Request) -> str | None:
        """Return the ID of the HTTP session of *request*."""
        value = request.meta.get(meta.SESSION_ID_META_KEY)
        return str(value) if value else None

    def observe(self, session: Session, response: Response, request: Request) -> None:
        """Store the cookies that *response* to *request* sets in the jar."""
        jar = session.state
        if isinstance(jar, CookieJar):
            jar.extract_cookies(response, request)

    def keep(self, session: Session, response: Response, request: Request) -> None:
        """The jar took the cookies of the response already."""

    def finish_init(
        self, session: Session, responses: list[Response], *, cookie_mode: bool
    ) -> None:
        """The jar took the cookies of every init response already."""

    def export_cookies(self, session: Session) -> list[dict[str, Any]]:
        """Return the cookies of the jar of *session*."""
        jar = session.state
        if not isinstance(jar, CookieJar):
            return []
        return [
            {
                "name": cookie.name,
                "value": cookie.value,
                "domain": cookie.domain,
                "path": cookie.path,
                "secure": cookie.secure,
                **({"expires": cookie.expires} if cookie.expires is not None else {}),
            }
            for cookie in jar
        ]

    def judge(self, response: Response) -> Verdict | None:
        """Return what the status of *response* says about its session."""
        if response.status in self._blocked:
            return Verdict(Outcome.BLOCKED)
        if response.status in self._rate_limited:
            return Verdict(
                Outcome.RATE_LIMITED, pause=retry_after_seconds(response, time.time())
            )
        return None

    def classify(self, exception: BaseException) -> Outcome | None:
        """Connection errors count against the session (and its proxy)."""
        if isinstance(exception, self._connection_errors):
            return Outcome.ERROR
        return None

    def classify_init(self, exception: BaseException) -> None:
        """No HTTP init failure is retried after a delay."""
        return
