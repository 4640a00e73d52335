"""Tests of the fake Zyte API server of the testing kit."""

from __future__ import annotations

import asyncio
import base64
import json
from concurrent.futures import ThreadPoolExecutor
from http.client import RemoteDisconnected
from typing import TYPE_CHECKING, Any
from urllib.error import HTTPError
from urllib.request import ProxyHandler, Request, build_opener

import pytest
import zyte_api

from scrapy_session_pools.testing import FakeZyteAPI, SubprocessServer

if TYPE_CHECKING:
    from collections.abc import Coroutine, Iterator

pytestmark = pytest.mark.timeout(30)

_opener = build_opener(ProxyHandler({}))


@pytest.fixture(scope="module")
def server() -> Iterator[FakeZyteAPI]:
    with FakeZyteAPI() as server:
        yield server


@pytest.fixture(autouse=True)
def _reset_server(server: FakeZyteAPI) -> None:
    server.reset()


def post(server: FakeZyteAPI, path: str, body: Any) -> tuple[int, str, Any]:
    """POST *body* as JSON; return the HTTP status, content type and JSON."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = Request(server.url(path), data=data, method="POST")
    request.add_header("Content-Type", "application/json")
    try:
        with _opener.open(request, timeout=10) as response:
            return (
                response.status,
                response.headers["Content-Type"],
                json.load(response),
            )
    except HTTPError as error:
        with error:
            return error.code, error.headers["Content-Type"], json.load(error)


def extract(server: FakeZyteAPI, body: Any) -> tuple[int, Any]:
    status, _, answer = post(server, "/v1/extract", body)
    return status, answer


def page(
    url: str,
    *,
    session: str = "",
    uses: int = 0,
    location: str = "{}",
    cookies: str = "[]",
) -> str:
    return (
        f"<html><head><title>/p</title></head><body>"
        f'<p id="url">{url}</p><p id="session">{session}</p><p id="uses">{uses}</p>'
        f'<p id="location">{location}</p><p id="cookies">{cookies}</p></body></html>'
    )


def problem(type_: str, status: int) -> dict[str, Any]:
    """Return the status and type of a problem answer, for comparisons."""
    return {"type": type_, "status": status}


def summary(answer: dict[str, Any]) -> dict[str, Any]:
    return {"type": answer["type"], "status": answer["status"]}


def log_entry(
    url: str,
    *,
    session: str | None = None,
    created_session: bool = False,
    actions: list[str] | None = None,
    status: int = 200,
    problem: str | None = None,
) -> dict[str, Any]:
    return {
        "url": url,
        "session": session,
        "created_session": created_session,
        "actions": actions or [],
        "status": status,
        "problem": problem,
    }


def run_async(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run *coroutine* with asyncio.run in a thread of its own.

    Under pytest-twisted with the asyncio reactor, the reactor's event loop
    counts as running in the main thread, where asyncio.run() would refuse to
    start.
    """
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, coroutine).result(timeout=20)


def test_browser_html_answer_is_the_deterministic_page(server):
    url = "https://example.com/p?a=1&b=2"
    status, answer = extract(server, {"url": url, "browserHtml": True})
    assert status == 200
    assert answer == {
        "url": url,
        "statusCode": 200,
        "browserHtml": page("https://example.com/p?a=1&amp;b=2"),
    }


def test_http_response_body_is_the_base64_page_with_its_headers(server):
    url = "https://example.com/p"
    status, answer = extract(
        server,
        {"url": url, "httpResponseBody": True, "httpResponseHeaders": True},
    )
    assert status == 200
    assert answer == {
        "url": url,
        "statusCode": 200,
        "httpResponseBody": base64.b64encode(page(url).encode()).decode(),
        "httpResponseHeaders": [
            {"name": "content-type", "value": "text/html; charset=utf-8"}
        ],
    }


def test_status_knob_sets_the_site_status_code_and_no_output_means_no_page(server):
    url = "https://example.com/p?status=404"
    assert extract(server, {"url": url, "someUnknownField": 1}) == (
        200,
        {"url": url, "statusCode": 404},
    )


def test_echo_data_is_sent_back_as_is(server):
    url = "https://example.com/p"
    echo = {"any": ["json", 1]}
    assert extract(server, {"url": url, "echoData": echo}) == (
        200,
        {"url": url, "statusCode": 200, "echoData": echo},
    )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"browserHtml": True}, id="missing-url"),
        pytest.param({"url": 5}, id="non-string-url"),
        pytest.param({"url": "https://example.com/?status=abc"}, id="bad-knob"),
        pytest.param(
            {"url": "https://example.com/?status=%C2%B2"}, id="non-ascii-digit-knob"
        ),
        pytest.param({"url": "https://example.com/?delay=inf"}, id="infinite-delay"),
        pytest.param(
            {"url": "https://example.com/", "actions": [{}]}, id="nameless-action"
        ),
        pytest.param(b"{not json", id="invalid-json"),
    ],
)
def test_bad_requests_get_a_bad_request_problem(server, body):
    status, content_type, answer = post(server, "/v1/extract", body)
    assert (status, content_type) == (400, "application/problem+json")
    assert summary(answer) == problem("/problem/bad-request", 400)
    assert set(answer) == {"type", "title", "status", "detail"}
    assert server.state()["requests"] == 1


def test_first_request_with_a_session_id_creates_it_and_later_ones_use_it(server):
    url = "https://example.com/p"
    body = {"url": url, "browserHtml": True, "session": {"id": "s1"}}
    assert extract(server, body) == (
        200,
        {
            "url": url,
            "statusCode": 200,
            "browserHtml": page(url, session="s1", uses=1),
            "session": {"id": "s1"},
        },
    )
    assert extract(server, body)[1]["browserHtml"] == page(url, session="s1", uses=2)
    state = server.state()
    assert state["requests"] == 2
    assert state["sessions_created"] == 1
    assert state["dead_sessions"] == 0
    live = state["live_sessions"]
    assert list(live) == ["s1"]
    assert live["s1"]["uses"] == 2
    assert live["s1"]["location"] == {}
    assert live["s1"]["banned"] is False
    assert live["s1"]["age"] >= 0
    times = [entry.pop("time") for entry in state["log"]]
    assert state["log"] == [
        log_entry(url, session="s1", created_session=True),
        log_entry(url, session="s1"),
    ]
    assert times[0] <= times[1]


def test_successful_set_location_sets_the_session_location(server):
    url = "https://example.com/p"
    address = {"postalCode": "10001", "addressCountry": "US"}
    status, answer = extract(
        server,
        {
            "url": url,
            "browserHtml": True,
            "session": {"id": "s1"},
            "actions": [
                {"action": "setLocation", "address": address},
                {"action": "scrollBottom"},
            ],
        },
    )
    assert status == 200
    assert answer["actions"] == [
        {"action": "setLocation", "elapsedTime": 0.001, "status": "success"},
        {"action": "scrollBottom", "elapsedTime": 0.001, "status": "success"},
    ]
    location = "{&quot;addressCountry&quot;: &quot;US&quot;, &quot;postalCode&quot;: &quot;10001&quot;}"
    assert answer["browserHtml"] == page(url, session="s1", uses=1, location=location)
    later = extract(server, {"url": url, "browserHtml": True, "session": {"id": "s1"}})[
        1
    ]
    assert later["browserHtml"] == page(url, session="s1", uses=2, location=location)
    assert server.state()["live_sessions"]["s1"]["location"] == address
    assert server.state()["log"][0]["actions"] == ["setLocation", "scrollBottom"]


@pytest.mark.parametrize(
    ("outcome", "error"),
    [
        ("fail", "Action setLocation failed: the address could not be set."),
        ("unsupported", "Action setLocation not supported on this website."),
    ],
)
def test_failed_set_location_is_returned_and_leaves_the_location_unset(
    server, outcome, error
):
    url = f"https://example.com/p?set_location={outcome}"
    status, answer = extract(
        server,
        {
            "url": url,
            "session": {"id": "s1"},
            "actions": [{"action": "setLocation", "address": {"postalCode": "10001"}}],
        },
    )
    assert (status, answer["actions"]) == (
        200,
        [
            {
                "action": "setLocation",
                "elapsedTime": 0.001,
                "status": "returned",
                "error": error,
            }
        ],
    )
    assert server.state()["live_sessions"]["s1"]["location"] == {}


def test_ban_after_bans_the_session_for_every_later_request(server):
    banning_url = "https://example.com/p?ban_after=2"
    body = {"url": banning_url, "session": {"id": "s1"}}
    assert [extract(server, body)[0] for _ in range(3)] == [200, 200, 520]
    status, answer = extract(
        server, {"url": "https://example.com/p", "session": {"id": "s1"}}
    )
    assert (status, summary(answer)) == (520, problem("/download/temporary-error", 520))
    assert extract(server, {"url": banning_url, "session": {"id": "s2"}})[0] == 200
    state = server.state()
    assert state["live_sessions"]["s1"]["banned"] is True
    assert state["live_sessions"]["s1"]["uses"] == 4
    assert state["live_sessions"]["s2"]["banned"] is False
    assert [(entry["status"], entry["problem"]) for entry in state["log"]] == [
        (200, None),
        (200, None),
        (520, "/download/temporary-error"),
        (520, "/download/temporary-error"),
        (200, None),
    ]


@pytest.mark.parametrize(
    ("code", "type_"),
    [(520, "/download/temporary-error"), (521, "/download/internal-error")],
)
def test_error_knob_always_answers_the_download_error(server, code, type_):
    url = f"https://example.com/p?error={code}"
    status, content_type, answer = post(server, "/v1/extract", {"url": url})
    assert (status, content_type, summary(answer)) == (
        code,
        "application/problem+json",
        problem(type_, code),
    )
    assert extract(server, {"url": url, "session": {"id": "s1"}})[0] == code
    assert server.state()["live_sessions"]["s1"]["uses"] == 1


def test_expire_after_kills_the_session_and_it_is_never_created_again(server):
    body = {"url": "https://example.com/p?expire_after=1", "session": {"id": "s1"}}
    assert extract(server, body)[0] == 200
    status, answer = extract(server, body)
    assert (status, summary(answer)) == (422, problem("/problem/session-expired", 422))
    again = {"url": "https://example.com/p", "session": {"id": "s1"}}
    assert extract(server, again)[0] == 422
    state = server.state()
    assert (
        state["live_sessions"],
        state["dead_sessions"],
        state["sessions_created"],
    ) == ({}, 1, 1)
    assert [entry["problem"] for entry in state["log"]] == [
        None,
        "/problem/session-expired",
        "/problem/session-expired",
    ]


@pytest.mark.parametrize(
    ("knob", "expected"),
    [
        pytest.param("over_session_limit=2", [422, 422, 200], id="over-session-limit"),
        pytest.param("creation_error=2", [503, 503, 200], id="creation-error"),
        pytest.param(
            "over_session_limit=1&creation_error=1", [422, 503, 200], id="both"
        ),
    ],
)
def test_session_creation_refusals_count_per_target_url(server, knob, expected):
    url = f"https://example.com/p?{knob}"
    statuses = [
        extract(server, {"url": url, "session": {"id": f"s{n}"}})[0] for n in range(3)
    ]
    assert statuses == expected
    # Requests that create no session and other URLs are not refused.
    assert extract(server, {"url": url})[0] == 200
    assert (
        extract(server, {"url": url + "&other", "session": {"id": "x"}})[0]
        == expected[0]
    )
    state = server.state()
    assert list(state["live_sessions"]) == ["s2"]
    assert [entry["created_session"] for entry in state["log"][:3]] == [
        False,
        False,
        True,
    ]


def test_creation_refusal_problems_have_their_types(server):
    url = "https://example.com/p?over_session_limit=1&creation_error=1"
    answers = [
        extract(server, {"url": url, "session": {"id": f"s{n}"}})[1] for n in range(2)
    ]
    assert [summary(answer) for answer in answers] == [
        problem("/problem/over-session-limit", 422),
        problem("/problem/session-creation-error", 503),
    ]


def test_session_max_age_expires_sessions_until_reset_restores_options(server):
    body = {"url": "https://example.com/p", "session": {"id": "s1"}}
    server.configure(session_max_age=0)
    assert [extract(server, body)[0] for _ in range(3)] == [200, 422, 422]
    assert server.state()["dead_sessions"] == 1
    server.reset()
    assert [extract(server, body)[0] for _ in range(3)] == [200, 200, 200]


def test_session_max_idle_expires_idle_sessions(server):
    body = {"url": "https://example.com/p", "session": {"id": "s1"}}
    server.configure(session_max_idle=0)
    assert [extract(server, body)[0] for _ in range(2)] == [200, 422]
    server.configure(session_max_idle=None)
    body["session"] = {"id": "s2"}
    assert [extract(server, body)[0] for _ in range(2)] == [200, 200]


def test_config_returns_the_current_options_and_rejects_unknown_ones(server):
    assert post(server, "/_config", {"latency": 0.01, "session_max_idle": 2}) == (
        200,
        "application/json; charset=utf-8",
        {"session_max_age": None, "session_max_idle": 2, "latency": 0.01},
    )
    status, _, answer = post(server, "/_config", {"max_age": 1})
    assert (status, summary(answer)) == (400, problem("/problem/bad-request", 400))
    status, _, answer = post(server, "/_config", {"latency": None})
    assert status == 400
    with pytest.raises(RuntimeError, match="HTTP 400"):
        server.configure(latency=-1)


def test_latency_and_delay_still_give_the_normal_answer(server):
    server.configure(latency=0.01)
    url = "https://example.com/p?delay=0.01"
    assert extract(server, {"url": url}) == (200, {"url": url, "statusCode": 200})


def test_response_cookies_echo_request_cookies_and_add_set_cookie_ones(server):
    url = "https://shop.example.com/p?set_cookie=a=1&set_cookie=b=x%3Dy"
    cookies = [
        {"name": "z", "value": "9", "domain": "shop.example.com"},
        {"name": "a", "value": "old", "domain": "shop.example.com", "path": "/"},
        {"name": "c", "value": "3", "domain": ".example.com", "path": "/p"},
    ]
    status, answer = extract(
        server,
        {
            "url": url,
            "browserHtml": True,
            "requestCookies": cookies,
            "responseCookies": True,
        },
    )
    assert status == 200
    assert answer["responseCookies"] == [
        {"name": "z", "value": "9", "domain": "shop.example.com", "path": "/"},
        {"name": "a", "value": "1", "domain": "shop.example.com", "path": "/"},
        {"name": "c", "value": "3", "domain": ".example.com", "path": "/p"},
        {"name": "b", "value": "x=y", "domain": "shop.example.com", "path": "/"},
    ]
    expected_cookies = "[&quot;a=old&quot;, &quot;c=3&quot;, &quot;z=9&quot;]"
    assert f'<p id="cookies">{expected_cookies}</p>' in answer["browserHtml"]


def test_set_cookie_is_ignored_without_response_cookies(server):
    url = "https://example.com/p?set_cookie=a=1"
    assert extract(server, {"url": url}) == (200, {"url": url, "statusCode": 200})


def test_reset_forgets_sessions_counters_and_log(server):
    url = "https://example.com/p?over_session_limit=1&expire_after=1"
    for session_id in ("s1", "s2", "s2", "s3"):
        extract(server, {"url": url, "session": {"id": session_id}})
    before = server.state()
    assert (
        before["requests"],
        before["sessions_created"],
        before["dead_sessions"],
    ) == (4, 2, 1)
    server.reset()
    assert server.state() == {
        "requests": 0,
        "sessions_created": 0,
        "live_sessions": {},
        "dead_sessions": 0,
        "faults": 0,
        "log": [],
    }
    assert (
        extract(server, {"url": url, "session": {"id": "s2"}})[0] == 422
    )  # per-URL count reset
    assert (
        extract(server, {"url": url, "session": {"id": "s2"}})[0] == 200
    )  # s2 is alive again


def test_server_that_cannot_start_raises_runtime_error_with_its_stderr():
    server = SubprocessServer("scrapy_session_pools.testing.no_such_module")
    with pytest.raises(RuntimeError, match="No module named") as exc_info:
        server.start()
    assert "exited before printing its URL" in str(exc_info.value)
    server.stop()  # stopping a server that is not running does nothing
    with pytest.raises(RuntimeError, match="not running"):
        server.url()


def test_real_zyte_api_client_gets_browser_html_and_session_expired_errors(server):
    url = "https://example.com/p?expire_after=1"
    query = {"url": url, "browserHtml": True, "session": {"id": "s1"}}

    async def run() -> tuple[dict[str, Any], zyte_api.RequestError]:
        client = zyte_api.AsyncZyteAPI(api_key="a", api_url=server.api_url)
        answer = await client.get(query)
        with pytest.raises(zyte_api.RequestError) as exc_info:
            await client.get(query)
        return answer, exc_info.value

    answer, error = run_async(run())
    assert answer["browserHtml"] == page(
        "https://example.com/p?expire_after=1", session="s1", uses=1
    )
    assert answer["session"] == {"id": "s1"}
    assert error.status == 422
    assert error.parsed.type == "/problem/session-expired"


def raw_extract(server: FakeZyteAPI, url: str) -> tuple[int, str, bytes]:
    """POST an extract request for *url*; return status, content type, body."""
    request = Request(
        server.url("/v1/extract"),
        data=json.dumps({"url": url, "browserHtml": True}).encode(),
        method="POST",
    )
    request.add_header("Content-Type", "application/json")
    try:
        with _opener.open(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except HTTPError as error:
        with error:
            return error.code, error.headers["Content-Type"], error.read()


def test_fault_500_is_a_plain_text_server_error(server):
    status, content_type, body = raw_extract(server, "https://example.com/?fault=500")
    assert (status, content_type, body) == (
        500,
        "text/plain; charset=utf-8",
        b"500 Internal Server Error",
    )


def test_fault_bad_json_is_a_200_with_invalid_json(server):
    status, content_type, body = raw_extract(
        server, "https://example.com/?fault=bad_json"
    )
    assert (status, content_type) == (200, "application/json")
    with pytest.raises(ValueError, match="Expecting value"):
        json.loads(body)


def test_fault_drop_closes_the_connection_without_an_answer(server):
    with pytest.raises((RemoteDisconnected, ConnectionResetError)):
        raw_extract(server, "https://example.com/?fault=drop")
    entry = server.state()["log"][-1]
    assert (entry["status"], entry["problem"]) == (None, "fault:drop")


def test_fault_times_counts_per_url_and_reset_forgets_it(server):
    url = "https://example.com/?fault=500&fault_times=2"
    statuses = [raw_extract(server, url)[0] for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert raw_extract(server, f"{url}&other=1")[0] == 500  # another URL
    assert server.state()["faults"] == 3
    server.reset()
    assert raw_extract(server, url)[0] == 500


def test_unknown_fault_is_a_bad_request(server):
    status, answer = extract(server, {"url": "https://example.com/?fault=slow"})
    assert status == 400
    assert answer["detail"] == (
        "Scenario knob fault='slow': expected 500 or bad_json or drop."
    )
