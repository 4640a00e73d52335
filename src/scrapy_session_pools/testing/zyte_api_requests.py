"""Requests and scenarios of the fake Zyte API: parsing and problem answers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web
from multidict import MultiDict

from scrapy_session_pools.testing.errors import ErrorAnswer
from scrapy_session_pools.testing.faults import FaultKnobs
from scrapy_session_pools.testing.knobs import KnobReader

SESSION_EXPIRED = "/problem/session-expired"
OVER_SESSION_LIMIT = "/problem/over-session-limit"
SESSION_CREATION_ERROR = "/problem/session-creation-error"
TEMPORARY_ERROR = "/download/temporary-error"
INTERNAL_ERROR = "/download/internal-error"
BAD_REQUEST = "/problem/bad-request"

_PROBLEMS: dict[str, tuple[int, str]] = {
    SESSION_EXPIRED: (422, "Session Expired"),
    OVER_SESSION_LIMIT: (422, "Over Session Limit"),
    SESSION_CREATION_ERROR: (503, "Session Creation Error"),
    TEMPORARY_ERROR: (520, "Temporary Download Error"),
    INTERNAL_ERROR: (521, "Internal Download Error"),
    BAD_REQUEST: (400, "Bad Request"),
}
_DOWNLOAD_ERRORS = {520: TEMPORARY_ERROR, 521: INTERNAL_ERROR}
_SET_LOCATION_ERRORS = {
    "ok": None,
    "fail": "Action setLocation failed: the address could not be set.",
    "unsupported": "Action setLocation not supported on this website.",
}
_ELAPSED_TIME = 0.001
_HEADERS = [{"name": "content-type", "value": "text/html; charset=utf-8"}]


class _Problem(ErrorAnswer):
    """An error answer of the fake API, raised while handling a request."""

    def __init__(self, type_: str, detail: str) -> None:
        super().__init__(detail)
        self.type = type_
        self.status, self.title = _PROBLEMS[type_]
        self.detail = detail

    def to_response(self) -> web.Response:
        body = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        # Bytes, so that aiohttp adds no charset to the content type.
        return web.Response(
            body=json.dumps(body).encode(),
            status=self.status,
            content_type="application/problem+json",
        )


def _bad_request(detail: str) -> _Problem:
    return _Problem(BAD_REQUEST, detail)


def _bad_request_sentence(message: str) -> _Problem:
    """Return the bad-request problem of a *message* of the shared parsing.

    Such messages (see :mod:`~scrapy_session_pools.testing.admin`) are
    written lower-case without a final period; Zyte API details are
    sentences.
    """
    return _bad_request(f"{message[:1].upper()}{message[1:]}.")


@dataclass(frozen=True, slots=True)
class _Options:
    session_max_age: float | None = None
    session_max_idle: float | None = None
    latency: float = 0.0


def _option_value(name: str, value: object) -> float | None:
    """Return the value of option *name* from a ``/_config`` JSON value."""
    is_nullable = name != "latency"
    if is_nullable and value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    expected = "a number >= 0" + (" or null" if is_nullable else "")
    raise _bad_request(f"{name}: expected {expected}, got {value!r}.")


@dataclass(frozen=True, slots=True)
class _Scenario:
    """Scenario knobs read from the query string of a target URL."""

    status: int = 200
    set_location: str = "ok"
    ban_after: int | None = None
    error: int | None = None
    expire_after: int | None = None
    over_session_limit: int = 0
    creation_error: int = 0
    delay: float = 0.0
    set_cookies: tuple[tuple[str, str], ...] = ()
    redirect: str | None = None
    delete_cookies: tuple[str, ...] = ()
    faults: FaultKnobs = field(default_factory=FaultKnobs)

    @classmethod
    def from_url(cls, url: str) -> _Scenario:
        query = MultiDict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
        knobs = KnobReader(query, _invalid_knob)
        redirect = knobs.text("redirect")
        return cls(
            status=knobs.count("status", range(100, 600), "100 to 599")
            or (302 if redirect else 200),
            set_location=knobs.choice("set_location", _SET_LOCATION_ERRORS) or "ok",
            ban_after=knobs.count("ban_after"),
            error=knobs.count("error", _DOWNLOAD_ERRORS, "520 or 521"),
            expire_after=knobs.count("expire_after"),
            over_session_limit=knobs.count("over_session_limit") or 0,
            creation_error=knobs.count("creation_error") or 0,
            delay=knobs.seconds("delay") or 0.0,
            set_cookies=knobs.pairs("set_cookie"),
            redirect=redirect,
            delete_cookies=knobs.texts("delete_cookie"),
            faults=FaultKnobs.read(knobs),
        )


def _invalid_knob(name: str, value: str, expected: str) -> _Problem:
    return _bad_request(f"Scenario knob {name}={value!r}: expected {expected}.")


@dataclass(frozen=True, slots=True)
class _ExtractRequest:
    """The parts of a Zyte API request body that the fake API understands."""

    url: str
    session_id: str | None = None
    actions: tuple[dict[str, Any], ...] | None = None
    request_cookies: tuple[dict[str, str], ...] = ()
    has_browser_html: bool = False
    has_http_response_body: bool = False
    has_http_response_headers: bool = False
    has_response_cookies: bool = False
    has_echo_data: bool = False
    echo_data: Any = None

    @classmethod
    def from_body(cls, body: object) -> _ExtractRequest:
        if not isinstance(body, dict):
            raise _bad_request("The request body must be a JSON object.")
        url = body.get("url")
        if not isinstance(url, str) or not url:
            raise _bad_request("The url field is required and must be a string.")
        return cls(
            url=url,
            session_id=_parse_session(body.get("session")),
            actions=_parse_actions(body.get("actions")),
            request_cookies=_parse_cookies(body.get("requestCookies")),
            has_browser_html=_parse_flag(body, "browserHtml"),
            has_http_response_body=_parse_flag(body, "httpResponseBody"),
            has_http_response_headers=_parse_flag(body, "httpResponseHeaders"),
            has_response_cookies=_parse_flag(body, "responseCookies"),
            has_echo_data="echoData" in body,
            echo_data=body.get("echoData"),
        )

    @property
    def action_names(self) -> list[str]:
        return [action["action"] for action in self.actions or ()]


def _parse_flag(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise _bad_request(f"The {key} field must be a boolean.")
    return value


def _parse_session(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        raise _bad_request('The session field must be {"id": "<string>"}.')
    return str(value["id"])


def _parse_actions(value: object) -> tuple[dict[str, Any], ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise _bad_request("The actions field must be a list.")
    for action in value:
        if not isinstance(action, dict) or not isinstance(action.get("action"), str):
            raise _bad_request(f"Each action needs an action name, got {action!r}.")
        if action["action"] == "setLocation" and not isinstance(
            action.get("address"), dict
        ):
            raise _bad_request("The setLocation action needs an address object.")
    return tuple(value)


def _parse_cookies(value: object) -> tuple[dict[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _bad_request("The requestCookies field must be a list.")
    for cookie in value:
        if not isinstance(cookie, dict) or not all(
            isinstance(cookie.get(key), str) for key in ("name", "value", "domain")
        ):
            raise _bad_request(
                f"Each request cookie needs name, value and domain, got {cookie!r}."
            )
    return tuple(value)
