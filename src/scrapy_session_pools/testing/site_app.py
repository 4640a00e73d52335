"""The session-gated test website as an aiohttp application: its pages and logins."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import TYPE_CHECKING

from aiohttp import web

from scrapy_session_pools.testing.admin import OptionsAndState, add_admin_routes
from scrapy_session_pools.testing.errors import ErrorAnswer
from scrapy_session_pools.testing.faults import fault_response
from scrapy_session_pools.testing.site_requests import (
    _identity_of,
    _Knobs,
    _LandingKnobs,
    _login_form_response,
    _option_value,
    _Options,
    _page_response,
    _Refusal,
    _session_response,
)
from scrapy_session_pools.testing.site_state import _State

if TYPE_CHECKING:
    from collections.abc import Mapping

logger = logging.getLogger(__name__)

_SESSION_COOKIE = "sid"
_CSRF_COOKIE = "csrf"


class _FakeSite:
    """The pages and login endpoints of the fake website."""

    def __init__(self, server: OptionsAndState[_Options, _State]) -> None:
        self._server = server

    async def landing(self, request: web.Request) -> web.Response:
        state = self._server.state
        try:
            knobs = _LandingKnobs.from_query(request.query)
        except ErrorAnswer as error:
            return error.to_response()
        if state.faults.due(request.raw_path, knobs.rate_limit) is not None:
            response = web.Response(
                text="too many requests",
                status=429,
                headers={"Retry-After": knobs.retry_after_header()},
            )
            state.record(request, None, response)
            return response
        session = state.create_session(_identity_of(request), is_logged_in=False)
        response = _session_response("Landing", session.id)
        response.set_cookie(_SESSION_COOKIE, session.id, path="/")
        state.record(request, session.id, response)
        return response

    async def login_form(self, request: web.Request) -> web.Response:
        token = secrets.token_urlsafe(16)
        response = _login_form_response(token)
        response.set_cookie(_CSRF_COOKIE, token, path="/")
        self._server.state.record(request, None, response)
        return response

    async def login(self, request: web.Request) -> web.Response:
        state, options = self._server.state, self._server.options
        form = await request.post()
        user, password, csrf = (
            _text_field(form, name) for name in ("user", "password", "csrf")
        )
        token = request.cookies.get(_CSRF_COOKIE, "")
        session_id = None
        if not token or csrf != token:
            response = web.Response(text="bad csrf token", status=403)
        elif f"{user}:{password}" != options.credentials:
            response = web.Response(text="bad credentials", status=403)
        else:
            session = state.create_session(_identity_of(request), is_logged_in=True)
            session_id = session.id
            response = _session_response("Welcome", session.id)
            response.set_cookie(_SESSION_COOKIE, session.id, path="/")
        state.record(request, session_id, response)
        return response

    async def logout(self, request: web.Request) -> web.Response:
        state = self._server.state
        session_id = request.cookies.get(_SESSION_COOKIE) or None
        if state.sessions.pop(session_id or "", None) is not None:
            logger.debug("Session %s logged out", session_id)
        response = web.Response(text="logged out")
        response.del_cookie(_SESSION_COOKIE, path="/")
        state.record(request, session_id, response)
        return response

    async def page(self, request: web.Request) -> web.Response:
        # In-flight requests keep the state they started with, so that a reset
        # between tests also isolates requests still being answered.
        state, options = self._server.state, self._server.options
        session_id = request.cookies.get(_SESSION_COOKIE) or None
        try:
            knobs = _Knobs.from_query(request.query)
            if knobs.delay:
                await asyncio.sleep(knobs.delay)
            if state.faults.due(request.raw_path, knobs.faults) is not None:
                return fault_response(request, "drop")
            session = state.use_session(
                session_id, _identity_of(request), options, knobs
            )
            if knobs.is_login_required and not session.is_logged_in:
                raise _Refusal(403, "login required")
            response = _page_response(
                request.path, session.id, session.uses, session.identity, knobs.status
            )
            for name, value in knobs.set_cookies:
                response.set_cookie(name, value, path="/")
        except ErrorAnswer as error:
            response = error.to_response()
        state.record(request, session_id, response)
        return response


def _text_field(form: Mapping[str, object], name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def create_app(
    *,
    ban_after: int | None = None,
    expire_after: float | None = None,
    min_interval: float = 0.0,
    credentials: str = "user:secret",
) -> web.Application:
    """Return the fake website as an :class:`aiohttp.web.Application`.

    Its options are those of the command line;
    :func:`scrapy_session_pools.testing.site.main` serves it. Use it directly
    to run the website in the current process, e.g. with aiohttp's test
    client.
    """
    server = OptionsAndState(
        _Options(ban_after, expire_after, min_interval, credentials),
        _State,
        _option_value,
    )
    site = _FakeSite(server)
    app = web.Application()
    add_admin_routes(app, server)
    app.router.add_get("/landing", site.landing)
    app.router.add_get("/login", site.login_form)
    app.router.add_post("/login", site.login)
    app.router.add_get("/logout", site.logout)
    app.router.add_get("/{path:.*}", site.page)
    return app
