"""Options, scenario knobs and answers of the session-gated test website."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from scrapy_session_pools.testing.errors import BadRequest, ErrorAnswer
from scrapy_session_pools.testing.faults import FaultKnobs
from scrapy_session_pools.testing.knobs import KnobReader

if TYPE_CHECKING:
    from multidict import MultiMapping

#: A client identity: (proxy name or "direct", User-Agent).
Identity = tuple[str, str]

DIRECT = "direct"

_STATUS_EXPECTED = "a status code from 200 to 599"


class _Refusal(ErrorAnswer):
    """A refused page request: an answer other than the page, with its status."""

    def __init__(
        self, status: int, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    def to_response(self) -> web.Response:
        return web.Response(text=self.message, status=self.status, headers=self.headers)


@dataclass(frozen=True, slots=True)
class _Options:
    """Server options: the command line, changed by ``/_config``."""

    ban_after: int | None = None
    expire_after: float | None = None
    min_interval: float = 0.0
    credentials: str = "user:secret"


def _option_value(name: str, value: object) -> Any:
    """Return the value of option *name* from a ``/_config`` JSON value."""
    if name == "credentials":
        if isinstance(value, str) and value.partition(":")[0] and ":" in value:
            return value
        raise BadRequest(f"credentials: expected 'user:password', got {value!r}")
    if value is None and name != "min_interval":
        return None
    if name == "ban_after":
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        raise BadRequest(f"ban_after: expected an integer >= 0 or null, got {value!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    nullable = "" if name == "min_interval" else " or null"
    raise BadRequest(f"{name}: expected a number >= 0{nullable}, got {value!r}")


@dataclass(frozen=True, slots=True)
class _Knobs:
    """Scenario knobs read from the query string of a page URL."""

    ban_after: int | None = None
    expire_after: float | None = None
    min_interval: float | None = None
    retry_after: float | None = None
    is_login_required: bool = False
    set_cookies: tuple[tuple[str, str], ...] = ()
    status: int = 200
    delay: float = 0.0
    faults: FaultKnobs = field(default_factory=FaultKnobs)

    @classmethod
    def from_query(cls, query: MultiMapping[str]) -> _Knobs:
        """Read the knobs of *query*; raise :exc:`BadRequest` on a bad value."""
        reader = KnobReader(query, _invalid_knob)
        return cls(
            ban_after=reader.count("ban_after"),
            expire_after=reader.seconds("expire_after"),
            min_interval=reader.seconds("min_interval"),
            retry_after=reader.seconds("retry_after"),
            is_login_required=reader.flag("login"),
            set_cookies=reader.pairs("set_cookie"),
            status=reader.count("status", range(200, 600), _STATUS_EXPECTED) or 200,
            delay=reader.seconds("delay") or 0.0,
            faults=FaultKnobs.read(reader, ("drop",)),
        )

    def retry_after_header(self) -> str:
        """Return the ``Retry-After`` value: whole seconds, at least 1."""
        return str(max(1, math.ceil(self.retry_after or 1)))


@dataclass(frozen=True, slots=True)
class _LandingKnobs:
    """Knobs of the landing page: ``rate_limit=N`` answers the first *N*
    requests to this exact URL 429, with ``retry_after=SECONDS``."""

    rate_limit: FaultKnobs = field(default_factory=FaultKnobs)
    retry_after: float | None = None

    @classmethod
    def from_query(cls, query: MultiMapping[str]) -> _LandingKnobs:
        """Read the knobs of *query*; raise :exc:`BadRequest` on a bad value."""
        reader = KnobReader(query, _invalid_knob)
        times = reader.count("rate_limit")
        return cls(
            rate_limit=FaultKnobs("429", times) if times else FaultKnobs(),
            retry_after=reader.seconds("retry_after"),
        )

    def retry_after_header(self) -> str:
        """Return the ``Retry-After`` value: whole seconds, at least 1."""
        return str(max(1, math.ceil(self.retry_after or 1)))


def _invalid_knob(name: str, value: str, expected: str) -> BadRequest:
    return BadRequest(f"knob {name}={value!r}: expected {expected}")


def _identity_of(request: web.Request) -> Identity:
    return (
        request.headers.get("X-Proxy-Id") or DIRECT,
        request.headers.get("User-Agent", ""),
    )


def _html_response(
    title: str, body: str, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        text=f"<html><head><title>{html.escape(title)}</title></head>"
        f"<body>{body}</body></html>",
        status=status,
        headers=headers,
        content_type="text/html",
    )


def _page_response(
    path: str, session_id: str, uses: int, identity: Identity, status: int
) -> web.Response:
    escape = html.escape
    proxy, user_agent = identity
    return _html_response(
        path,
        f'<p id="session">{escape(session_id)}</p><p id="uses">{uses}</p>'
        f'<p id="identity">{escape(proxy)}|{escape(user_agent)}</p>'
        f'<p id="path">{escape(path)}</p>',
        status=status,
    )


def _session_response(title: str, session_id: str) -> web.Response:
    return _html_response(
        title, f'<p>{html.escape(title)}</p><p id="session">{session_id}</p>'
    )


def _login_form_response(token: str) -> web.Response:
    return _html_response(
        "Login",
        '<form method="post" action="/login">'
        f'<input type="hidden" name="csrf" value="{html.escape(token)}">'
        '<input name="user"><input name="password" type="password"></form>',
    )
