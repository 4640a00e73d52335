"""The fake Zyte API as an aiohttp application: its extract endpoint and answers."""

from __future__ import annotations

import asyncio
import base64
import html
import json
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import web

from scrapy_session_pools.testing.admin import OptionsAndState, add_admin_routes
from scrapy_session_pools.testing.errors import read_json
from scrapy_session_pools.testing.faults import fault_response
from scrapy_session_pools.testing.zyte_api_requests import (
    _DOWNLOAD_ERRORS,
    _ELAPSED_TIME,
    _HEADERS,
    _SET_LOCATION_ERRORS,
    _bad_request_sentence,
    _ExtractRequest,
    _option_value,
    _Options,
    _Problem,
    _Scenario,
)
from scrapy_session_pools.testing.zyte_api_state import _State

if TYPE_CHECKING:
    from scrapy_session_pools.testing.zyte_api_state import _Session


class _FakeZyteAPI:
    """The extract endpoint of the fake API."""

    def __init__(self, server: OptionsAndState[_Options, _State]) -> None:
        self._server = server

    async def extract(self, request: web.Request) -> web.Response:
        # In-flight requests keep the state they started with, so that a reset
        # between tests also isolates requests still being answered.
        state, options = self._server.state, self._server.options
        entry: dict[str, Any] = {
            "url": None,
            "session": None,
            "created_session": False,
            "actions": [],
            "status": 200,
            "problem": None,
            "time": None,
        }
        try:
            if options.latency:
                await asyncio.sleep(options.latency)
            body = await read_json(request, _bad_request_sentence)
            query = _ExtractRequest.from_body(body)
            entry.update(
                url=query.url, session=query.session_id, actions=query.action_names
            )
            scenario = _Scenario.from_url(query.url)
            if scenario.delay:
                await asyncio.sleep(scenario.delay)
            fault = state.faults.due(query.url, scenario.faults)
            if fault is not None:
                response = fault_response(request, fault)
                entry.update(
                    status=None if fault == "drop" else response.status,
                    problem=f"fault:{fault}",
                )
                state.log.append(entry)
                return response
            entry["time"] = now = time.monotonic()
            session = None
            if query.session_id is not None:
                session, entry["created_session"] = state.open_session(
                    query.session_id, query.url, options, scenario, now
                )
                state.use_session(session, scenario, now)
            response = web.json_response(_answer(query, scenario, session))
        except _Problem as problem:
            response = problem.to_response()
            entry["problem"] = problem.type
        entry["status"] = response.status
        state.log.append(entry)
        return response


def _answer(
    query: _ExtractRequest, scenario: _Scenario, session: _Session | None
) -> dict[str, Any]:
    """Return the answer to *query*, once *session* (if any) served it."""
    if scenario.error is not None:
        raise _Problem(
            _DOWNLOAD_ERRORS[scenario.error],
            f"The website answered {scenario.error}.",
        )
    action_results, location = _run_actions(query, scenario, session)
    page = _render_page(query, session, location)
    answer: dict[str, Any] = {"url": query.url, "statusCode": scenario.status}
    if query.has_browser_html:
        answer["browserHtml"] = page
    if query.has_http_response_body:
        answer["httpResponseBody"] = base64.b64encode(page.encode()).decode()
    if query.has_http_response_headers:
        answer["httpResponseHeaders"] = [dict(header) for header in _HEADERS]
        if scenario.redirect:
            answer["httpResponseHeaders"].append(
                {"name": "location", "value": scenario.redirect}
            )
    if query.actions is not None:
        answer["actions"] = action_results
    if session is not None:
        answer["session"] = {"id": session.id}
    if query.has_response_cookies:
        answer["responseCookies"] = _response_cookies(query, scenario)
    if query.has_echo_data:
        answer["echoData"] = query.echo_data
    return answer


def _run_actions(
    query: _ExtractRequest, scenario: _Scenario, session: _Session | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Return the action results of *query* and the resulting location.

    A successful ``setLocation`` also sets the location of *session*.
    """
    location = session.location if session is not None else {}
    results = []
    for action in query.actions or ():
        result: dict[str, Any] = {
            "action": action["action"],
            "elapsedTime": _ELAPSED_TIME,
            "status": "success",
        }
        if action["action"] == "setLocation":
            error = _SET_LOCATION_ERRORS[scenario.set_location]
            if error is None:
                location = dict(action["address"])
                if session is not None:
                    session.location = location
            else:
                result.update(status="returned", error=error)
        results.append(result)
    return results, location


def _render_page(
    query: _ExtractRequest, session: _Session | None, location: dict[str, Any]
) -> str:
    escape = html.escape
    cookies = sorted(
        f"{cookie['name']}={cookie['value']}" for cookie in query.request_cookies
    )
    return (
        f"<html><head><title>{escape(urlsplit(query.url).path or '/')}</title></head>"
        f'<body><p id="url">{escape(query.url)}</p>'
        f'<p id="session">{escape(session.id if session is not None else "")}</p>'
        f'<p id="uses">{session.uses if session is not None else 0}</p>'
        f'<p id="location">{escape(json.dumps(location, sort_keys=True))}</p>'
        f'<p id="cookies">{escape(json.dumps(cookies))}</p></body></html>'
    )


def _response_cookies(
    query: _ExtractRequest, scenario: _Scenario
) -> list[dict[str, Any]]:
    cookies: dict[tuple[str, str, str], dict[str, Any]] = {}
    for cookie in query.request_cookies:
        echoed = {
            "name": cookie["name"],
            "value": cookie["value"],
            "domain": cookie["domain"],
            "path": cookie.get("path", "/"),
        }
        cookies[echoed["name"], echoed["domain"], echoed["path"]] = echoed
    host = urlsplit(query.url).hostname or ""
    for name, value in scenario.set_cookies:
        cookies[name, host, "/"] = {
            "name": name,
            "value": value,
            "domain": host,
            "path": "/",
        }
    for name in scenario.delete_cookies:
        cookies[name, host, "/"] = {
            "name": name,
            "value": "",
            "domain": host,
            "path": "/",
            "expires": 0,
        }
    return list(cookies.values())


def create_app(
    *,
    session_max_age: float | None = None,
    session_max_idle: float | None = None,
    latency: float = 0.0,
) -> web.Application:
    """Return the fake Zyte API as an :class:`aiohttp.web.Application`.

    Its options are those of the command line;
    :func:`scrapy_session_pools.testing.zyte_api.main` serves it. Use it
    directly to run the fake API in the current process, e.g. with aiohttp's
    test client.
    """
    server = OptionsAndState(
        _Options(session_max_age, session_max_idle, latency),
        _State,
        _option_value,
        _bad_request_sentence,
    )
    app = web.Application()
    app.router.add_post("/v1/extract", _FakeZyteAPI(server).extract)
    add_admin_routes(app, server, bad_request=_bad_request_sentence)
    return app
