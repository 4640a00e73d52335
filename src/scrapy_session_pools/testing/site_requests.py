"""Options, scenario knobs and answers of the session-gated test website."""

from __future__ import annotations

import html
import json
import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from multidict import MultiMapping

#: A client identity: (proxy name or "direct", User-Agent).
Identity = tuple[str, str]

DIRECT = "direct"


class _BadRequest(Exception):
    """A malformed request: a bad knob or ``/_config`` body, answered with 400."""

    def to_response(self) -> web.Response:
        return web.Response(text=f"bad request: {self}", status=400)


class _Refusal(Exception):
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

    def updated(self, changes: object) -> _Options:
        """Return a copy with *changes*, a ``/_config`` JSON body, applied."""
        if not isinstance(changes, dict):
            raise _BadRequest("the /_config body must be a JSON object")
        options = asdict(self)
        unknown = sorted(set(changes) - set(options))
        if unknown:
            raise _BadRequest(f"unknown /_config options: {', '.join(unknown)}")
        for name, value in changes.items():
            options[name] = _option_value(name, value)
        return _Options(**options)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _option_value(name: str, value: object) -> Any:
    if name == "credentials":
        if isinstance(value, str) and value.partition(":")[0] and ":" in value:
            return value
        raise _BadRequest(f"credentials: expected 'user:password', got {value!r}")
    if value is None and name != "min_interval":
        return None
    if name == "ban_after":
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        raise _BadRequest(f"ban_after: expected an integer >= 0 or null, got {value!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    nullable = "" if name == "min_interval" else " or null"
    raise _BadRequest(f"{name}: expected a number >= 0{nullable}, got {value!r}")


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

    @classmethod
    def from_query(cls, query: MultiMapping[str]) -> _Knobs:
        """Read the knobs of *query*; raise :exc:`_BadRequest` on a bad value."""
        reader = _KnobReader(query)
        return cls(
            ban_after=reader.count("ban_after"),
            expire_after=reader.seconds("expire_after"),
            min_interval=reader.seconds("min_interval"),
            retry_after=reader.seconds("retry_after"),
            is_login_required=reader.flag("login"),
            set_cookies=reader.pairs("set_cookie"),
            status=reader.status("status"),
            delay=reader.seconds("delay") or 0.0,
        )

    def retry_after_header(self) -> str:
        """Return the ``Retry-After`` value: whole seconds, at least 1."""
        return str(max(1, math.ceil(self.retry_after or 1)))


class _KnobReader:
    def __init__(self, query: MultiMapping[str]) -> None:
        self._query = query

    def _last(self, name: str) -> str | None:
        values = self._query.getall(name, [])
        return values[-1] if values else None

    def _invalid(self, name: str, value: str, expected: str) -> _BadRequest:
        return _BadRequest(f"knob {name}={value!r}: expected {expected}")

    def count(self, name: str) -> int | None:
        value = self._last(name)
        if value is None:
            return None
        if not value.isdigit():
            raise self._invalid(name, value, "an integer >= 0")
        return int(value)

    def seconds(self, name: str) -> float | None:
        value = self._last(name)
        if value is None:
            return None
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds < math.inf:  # also rejects NaN
            raise self._invalid(name, value, "seconds >= 0")
        return seconds

    def flag(self, name: str) -> bool:
        value = self._last(name)
        if value not in {None, "", "0", "1"}:
            raise self._invalid(name, str(value), "1 or 0")
        return value == "1"

    def status(self, name: str) -> int:
        value = self._last(name)
        if value is None:
            return 200
        if not value.isdigit() or not 200 <= int(value) <= 599:
            raise self._invalid(name, value, "a status code from 200 to 599")
        return int(value)

    def pairs(self, name: str) -> tuple[tuple[str, str], ...]:
        pairs = []
        for value in self._query.getall(name, []):
            key, sep, pair_value = value.partition("=")
            if not key or not sep:
                raise self._invalid(name, value, "name=value")
            pairs.append((key, pair_value))
        return tuple(pairs)


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


async def _read_json(request: web.Request) -> object:
    try:
        return json.loads(await request.read())
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise _BadRequest(f"the request body is not valid JSON: {exc}") from exc
