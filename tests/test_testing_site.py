"""Tests of the session-gated website and the forward proxy of the testing kit."""

from __future__ import annotations

import base64
import http.client
import signal
import subprocess
import sys
from dataclasses import dataclass
from http.client import RemoteDisconnected
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import pytest
from scrapy import FormRequest, Request, Spider
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.test import get_crawler

from scrapy_session_pools.testing import FakeProxy, FakeSite

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from email.message import Message

    from scrapy.crawler import Crawler
    from scrapy.http import Response

USER_AGENT = "test-agent"
CRAWL_SETTINGS = {
    "TELNETCONSOLE_ENABLED": False,
    "LOG_LEVEL": "DEBUG",
    "CLOSESPIDER_TIMEOUT": 30,
    "USER_AGENT": USER_AGENT,
}


@pytest.fixture(scope="module")
def _site_server() -> Iterator[FakeSite]:
    with FakeSite() as server:
        yield server


@pytest.fixture(scope="module")
def _p1_server() -> Iterator[FakeProxy]:
    with FakeProxy("p1", auth="user:pass") as server:
        yield server


@pytest.fixture(scope="module")
def _p2_server() -> Iterator[FakeProxy]:
    with FakeProxy("p2") as server:
        yield server


@pytest.fixture
def site(_site_server: FakeSite) -> FakeSite:
    _site_server.reset()
    return _site_server


@pytest.fixture
def p1(_p1_server: FakeProxy) -> FakeProxy:
    """A proxy named p1 that requires the credentials user:pass."""
    _p1_server.reset()
    return _p1_server


@pytest.fixture
def p2(_p2_server: FakeProxy) -> FakeProxy:
    """A proxy named p2 without authentication."""
    _p2_server.reset()
    return _p2_server


@dataclass
class Answer:
    status: int
    headers: Message
    text: str

    def set_cookies(self) -> list[str]:
        """Return the Set-Cookie headers, in order."""
        return self.headers.get_all("Set-Cookie") or []

    def cookies(self) -> dict[str, str]:
        """Return the name and value of each Set-Cookie header."""
        jar: SimpleCookie = SimpleCookie()
        for header in self.set_cookies():
            jar.load(header)
        return {name: morsel.value for name, morsel in jar.items()}


def fetch(
    url: str,
    *,
    proxy: FakeProxy | None = None,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    authenticate: bool = True,
) -> Answer:
    """Send one request, directly or through *proxy* in absolute form.

    http.client, unlike urllib, ignores the proxy environment variables
    (``no_proxy`` would make urllib bypass a proxy for 127.0.0.1).
    """
    all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    if proxy is None:
        address, target = urlsplit(url).netloc, url[url.index("/", 7) :]
    else:
        address, target = urlsplit(proxy.url()).netloc, url
        if proxy.auth is not None and authenticate:
            token = base64.b64encode(proxy.auth.encode()).decode()
            all_headers.setdefault("Proxy-Authorization", f"Basic {token}")
    host, port = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(method, target, body=body, headers=all_headers)
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read().decode())
    finally:
        connection.close()


def open_session(site: FakeSite, proxy: FakeProxy | None = None) -> str:
    """Open a session at the landing page and return its id."""
    answer = fetch(site.url("/landing"), proxy=proxy)
    assert answer.status == 200
    return answer.cookies()["sid"]


def visit(
    site: FakeSite,
    path: str,
    session_id: str,
    *,
    proxy: FakeProxy | None = None,
    user_agent: str = USER_AGENT,
) -> Answer:
    return fetch(
        site.url(path),
        proxy=proxy,
        headers={"Cookie": f"sid={session_id}", "User-Agent": user_agent},
    )


def page(path: str, session_id: str, uses: int, identity: str) -> str:
    return (
        f"<html><head><title>{path}</title></head><body>"
        f'<p id="session">{session_id}</p><p id="uses">{uses}</p>'
        f'<p id="identity">{identity}</p><p id="path">{path}</p></body></html>'
    )


def login_fields(site: FakeSite, **overrides: str) -> tuple[str, dict[str, str]]:
    """Get the login form; return its csrf cookie and the fields to post."""
    form = fetch(site.url("/login"))
    assert form.status == 200
    token = form.cookies()["csrf"]
    assert f'name="csrf" value="{token}"' in form.text
    fields = {"user": "user", "password": "secret", "csrf": token, **overrides}
    return token, fields


def post_login(
    site: FakeSite, token: str, fields: dict[str, str], proxy: FakeProxy | None = None
) -> Answer:
    return fetch(
        site.url("/login"),
        proxy=proxy,
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrf={token}",
        },
        body=urlencode(fields).encode(),
    )


# The website


def test_landing_sets_a_session_cookie_that_pages_need(site):
    assert fetch(site.url("/page/1")).status == 401
    landing = fetch(site.url("/landing?any=thing"))
    assert landing.status == 200
    [set_cookie] = landing.set_cookies()
    session_id = landing.cookies()["sid"]
    assert set_cookie == f"sid={session_id}; Path=/"
    assert f'<p id="session">{session_id}</p>' in landing.text
    answer = visit(site, "/page/1", session_id)
    assert (answer.status, answer.text) == (
        200,
        page("/page/1", session_id, 1, f"direct|{USER_AGENT}"),
    )
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-cookie"),
        pytest.param({"Cookie": "sid=unknown"}, id="unknown-session"),
    ],
)
def test_pages_without_a_known_session_need_a_login(site, headers):
    answer = fetch(site.url("/products/3?x=y"), headers=headers)
    assert (answer.status, answer.text) == (401, "login required")


def test_each_page_request_is_one_more_use_of_the_session(site):
    session_id = open_session(site)
    for uses in (1, 2, 3):
        answer = visit(site, f"/page/{uses}?x=%3Cy%3E", session_id)
        assert answer.text == page(
            f"/page/{uses}", session_id, uses, f"direct|{USER_AGENT}"
        )
    state = site.state()
    assert state["sessions_created"] == 1
    assert state["requests"] == 4
    [live] = state["live_sessions"].values()
    assert live["uses"] == 3
    assert live["identity"] == ["direct", USER_AGENT]
    assert (live["banned"], live["logged_in"]) == (False, False)
    assert live["age"] >= 0
    log = [{k: v for k, v in entry.items() if k != "time"} for entry in state["log"]]
    identity = ["direct", USER_AGENT]
    assert log == [
        {"path": "/landing", "session": session_id, "identity": identity, "status": 200}
    ] + [
        {
            "path": f"/page/{uses}?x=%3Cy%3E",
            "session": session_id,
            "identity": identity,
            "status": 200,
        }
        for uses in (1, 2, 3)
    ]


def test_expired_session_is_dropped(site):
    session_id = open_session(site)
    assert visit(site, "/p?expire_after=60", session_id).status == 200
    answer = visit(site, "/p?expire_after=0", session_id)
    assert (answer.status, answer.text) == (401, "session expired")
    assert site.state()["live_sessions"] == {}
    answer = visit(site, "/p", session_id)
    assert (answer.status, answer.text) == (401, "login required")


def test_expire_after_option_applies_until_reset(site):
    site.configure(expire_after=0)
    session_id = open_session(site)
    assert visit(site, "/p", session_id).text == "session expired"
    site.reset()
    session_id = open_session(site)
    assert visit(site, "/p", session_id).status == 200


def test_ban_after_bans_the_session_for_every_later_request(site):
    session_id = open_session(site)
    assert [visit(site, "/p?ban_after=2", session_id).status for _ in range(2)] == [
        200,
        200,
    ]
    answer = visit(site, "/p?ban_after=2", session_id)
    assert (answer.status, answer.text) == (403, "banned")
    assert visit(site, "/p", session_id).text == "banned"
    [live] = site.state()["live_sessions"].values()
    assert (live["banned"], live["uses"]) == (True, 4)


def test_ban_after_option_applies_when_the_knob_is_absent(site):
    site.configure(ban_after=1)
    session_id = open_session(site)
    assert visit(site, "/p", session_id).status == 200
    assert visit(site, "/p?ban_after=5", session_id).status == 200
    assert visit(site, "/p", session_id).text == "banned"


def test_session_used_through_another_proxy_is_banned(site, p1, p2):
    session_id = open_session(site, proxy=p1)
    assert visit(site, "/p", session_id, proxy=p1).status == 200
    answer = visit(site, "/p", session_id, proxy=p2)
    assert (answer.status, answer.text) == (403, "identity mismatch")
    answer = visit(site, "/p", session_id, proxy=p1)
    assert (answer.status, answer.text) == (403, "banned")
    [live] = site.state()["live_sessions"].values()
    assert (live["identity"], live["banned"]) == (["p1", USER_AGENT], True)


def test_session_used_with_another_user_agent_is_banned(site):
    session_id = open_session(site)
    answer = visit(site, "/p", session_id, user_agent="other-agent")
    assert (answer.status, answer.text) == (403, "identity mismatch")
    assert visit(site, "/p", session_id).text == "banned"


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        pytest.param("", "1", id="default"),
        pytest.param("&retry_after=5", "5", id="whole"),
        pytest.param("&retry_after=2.5", "3", id="rounded-up"),
        pytest.param("&retry_after=0", "1", id="at-least-1"),
    ],
)
def test_too_frequent_use_gets_429_that_is_not_a_use(site, retry_after, expected):
    session_id = open_session(site)
    assert visit(site, "/p?min_interval=60", session_id).status == 200
    answer = visit(site, f"/p?min_interval=60{retry_after}", session_id)
    assert (answer.status, answer.text) == (429, "slow down")
    assert answer.headers["Retry-After"] == expected
    answer = visit(site, "/p", session_id)
    assert '<p id="uses">2</p>' in answer.text


def test_min_interval_option_applies_when_the_knob_is_absent(site):
    site.configure(min_interval=60)
    session_id = open_session(site)
    assert visit(site, "/p", session_id).status == 200
    assert visit(site, "/p", session_id).status == 429
    assert visit(site, "/p?min_interval=0", session_id).status == 200


def test_login_with_the_csrf_token_and_credentials_opens_a_logged_in_session(site, p1):
    token, fields = login_fields(site)
    answer = post_login(site, token, fields, proxy=p1)
    assert answer.status == 200
    assert "Welcome" in answer.text
    session_id = answer.cookies()["sid"]
    assert answer.headers["Set-Cookie"] == f"sid={session_id}; Path=/"
    answer = visit(site, "/account?login=1", session_id, proxy=p1)
    assert answer.text == page("/account", session_id, 1, f"p1|{USER_AGENT}")
    live = site.state()["live_sessions"][session_id]
    assert (live["identity"], live["logged_in"]) == (["p1", USER_AGENT], True)


@pytest.mark.parametrize(
    ("overrides", "cookie", "expected"),
    [
        pytest.param({"csrf": "forged"}, None, "bad csrf token", id="wrong-csrf"),
        pytest.param({}, "", "bad csrf token", id="no-csrf-cookie"),
        pytest.param({"password": "wrong"}, None, "bad credentials", id="password"),
        pytest.param({"user": "other"}, None, "bad credentials", id="user"),
    ],
)
def test_login_is_refused_without_the_csrf_token_or_credentials(
    site, overrides, cookie, expected
):
    token, fields = login_fields(site, **overrides)
    answer = post_login(site, token if cookie is None else cookie, fields)
    assert (answer.status, answer.text) == (403, expected)
    assert answer.set_cookies() == []
    assert site.state()["sessions_created"] == 0


def test_login_accepts_the_configured_credentials(site):
    site.configure(credentials="alice:pw")
    token, fields = login_fields(site, user="alice", password="pw")
    assert post_login(site, token, fields).status == 200


def test_page_needing_a_login_refuses_a_landing_session(site):
    session_id = open_session(site)
    answer = visit(site, "/account?login=1", session_id)
    assert (answer.status, answer.text) == (403, "login required")


def test_logout_deletes_the_cookie_and_drops_the_session(site):
    session_id = open_session(site)
    answer = visit(site, "/logout", session_id)
    assert answer.status == 200
    [set_cookie] = answer.set_cookies()
    assert set_cookie.startswith('sid=""; ')
    assert "Max-Age=0" in set_cookie
    assert "Path=/" in set_cookie
    assert site.state()["live_sessions"] == {}
    assert visit(site, "/p", session_id).text == "login required"


def test_status_and_set_cookie_knobs_shape_the_page_answer(site):
    session_id = open_session(site)
    answer = visit(
        site, "/p?status=503&set_cookie=a=1&set_cookie=b=2&delay=0.05", session_id
    )
    assert answer.status == 503
    assert answer.text == page("/p", session_id, 1, f"direct|{USER_AGENT}")
    assert answer.set_cookies() == ["a=1; Path=/", "b=2; Path=/"]


@pytest.mark.parametrize(
    "query",
    [
        "ban_after=x",
        "ban_after=%C2%B2",
        "expire_after=-1",
        "delay=nan",
        "login=2",
        "status=99",
        "set_cookie=a",
    ],
)
def test_bad_knob_values_get_400(site, query):
    answer = fetch(site.url(f"/p?{query}"))
    assert answer.status == 400
    assert answer.text.startswith(f"bad request: knob {query.partition('=')[0]}=")


def test_config_returns_the_options_and_rejects_bad_ones(site):
    assert site._admin_request("POST", "/_config", {"min_interval": 2}) == {
        "ban_after": None,
        "expire_after": None,
        "min_interval": 2.0,
        "credentials": "user:secret",
    }
    for bad in ({"unknown": 1}, {"ban_after": 1.5}, {"credentials": "nocolon"}):
        with pytest.raises(RuntimeError, match="HTTP 400"):
            site.configure(**bad)


def test_reset_forgets_sessions_and_the_log(site):
    visit(site, "/p", open_session(site))
    site.reset()
    assert site.state() == {
        "sessions_created": 0,
        "live_sessions": {},
        "requests": 0,
        "faults": 0,
        "log": [],
    }


def test_fault_drop_closes_the_connection_for_fault_times_requests(site):
    session_id = open_session(site)
    with pytest.raises((RemoteDisconnected, ConnectionResetError)):
        visit(site, "/page/1?fault=drop&fault_times=1", session_id)
    answer = visit(site, "/page/1?fault=drop&fault_times=1", session_id)
    assert answer.status == 200
    assert site.state()["faults"] == 1
    # The dropped request reached no rule: the session was used once.
    assert site.state()["live_sessions"][session_id]["uses"] == 1


def test_site_has_no_answer_faults(site):
    answer = fetch(site.url("/page/1?fault=500"))
    assert answer.status == 400
    assert "knob fault='500': expected drop" in answer.text


# The proxy


def test_proxy_names_itself_in_x_proxy_id(site, p2):
    session_id = open_session(site, proxy=p2)
    answer = fetch(
        site.url("/p?x=%3Cy%3E"),
        proxy=p2,
        headers={"Cookie": f"sid={session_id}", "X-Proxy-Id": "spoofed"},
    )
    assert answer.text == page("/p", session_id, 1, f"p2|{USER_AGENT}")
    assert p2.state() == {"name": "p2", "requests": 2, "rejected_auth": 0}
    assert site.state()["log"][-1]["path"] == "/p?x=%3Cy%3E"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="missing"),
        pytest.param({"Proxy-Authorization": "Basic dXNlcjp3cm9uZw=="}, id="wrong"),
        pytest.param({"Proxy-Authorization": "Bearer abc"}, id="not-basic"),
    ],
)
def test_proxy_rejects_missing_or_wrong_credentials_with_407(site, p1, headers):
    answer = fetch(site.url("/landing"), proxy=p1, headers=headers, authenticate=False)
    assert answer.status == 407
    assert answer.headers["Proxy-Authenticate"] == 'Basic realm="fake-proxy"'
    assert p1.state() == {"name": "p1", "requests": 1, "rejected_auth": 1}
    assert site.state()["requests"] == 0


def test_proxy_refuses_targets_off_the_machine(p2):
    answer = fetch("http://example.com/page", proxy=p2)
    assert (answer.status, answer.text) == (403, "target host not allowed")


def test_proxy_does_not_support_connect(p2):
    answer = fetch("127.0.0.1:443", proxy=p2, method="CONNECT")
    assert answer.status == 405


def test_proxy_preserves_every_set_cookie_header(site, p1):
    session_id = open_session(site, proxy=p1)
    answer = visit(
        site, "/p?set_cookie=a=1&set_cookie=b=2&set_cookie=c=3", session_id, proxy=p1
    )
    assert answer.status == 200
    assert answer.set_cookies() == [
        "a=1; Path=/",
        "b=2; Path=/",
        "c=3; Path=/",
    ]


def test_proxy_relays_error_statuses_and_post_bodies(site, p2):
    assert fetch(site.url("/p"), proxy=p2).status == 401
    token, fields = login_fields(site)
    assert post_login(site, token, fields, proxy=p2).status == 200
    assert post_login(site, token, {**fields, "csrf": "x"}, proxy=p2).status == 403


def test_proxy_admin_endpoints_count_and_reset(p1):
    fetch("http://example.com/", proxy=p1, authenticate=False)
    assert p1.state() == {"name": "p1", "requests": 1, "rejected_auth": 1}
    assert p1._admin_request("POST", "/_config", {}) == {}
    p1.reset()
    assert p1.state() == {"name": "p1", "requests": 0, "rejected_auth": 0}


def test_proxy_url_carries_percent_encoded_credentials(site, p1, p2):
    port = urlsplit(p1.url()).port
    assert p1.proxy_url == f"http://user:pass@127.0.0.1:{port}"
    assert p2.proxy_url == p2.url()
    assert (p1.name, p2.name) == ("p1", "p2")
    with FakeProxy("p3", auth="us@r:p:ss") as proxy:
        port = urlsplit(proxy.url()).port
        assert proxy.proxy_url == f"http://us%40r:p%3Ass@127.0.0.1:{port}"
        assert fetch(site.url("/landing"), proxy=proxy).status == 200


@pytest.mark.parametrize(
    "module",
    [
        "scrapy_session_pools.testing.zyte_api",
        "scrapy_session_pools.testing.site",
        "scrapy_session_pools.testing.proxy",
    ],
)
def test_servers_print_their_url_and_exit_cleanly_on_sigterm(module):
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("http://127.0.0.1:")
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert (process.returncode, stdout, stderr) == (0, "", "")


# Real Scrapy crawls


class PagesSpider(Spider):
    """Visit the landing page, then the pages, one after the other."""

    name = "pages"
    site_url = ""
    pages: tuple[str, ...] = ()
    meta: dict[str, Any] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.responses: list[Response] = []

    async def start(self) -> AsyncIterator[Any]:
        yield Request(self.site_url + "/landing", meta=dict(self.meta))

    def parse(self, response: Response) -> Iterator[Request]:
        self.responses.append(response)
        if len(self.responses) <= len(self.pages):
            path = self.pages[len(self.responses) - 1]
            yield Request(self.site_url + path, meta=dict(self.meta))


def pages_spider(
    site: FakeSite, pages: tuple[str, ...], meta: dict[str, Any] | None = None
) -> type[PagesSpider]:
    return type(
        "TestPagesSpider",
        (PagesSpider,),
        {"site_url": site.url(), "pages": pages, "meta": meta or {}},
    )


async def crawl(spider_cls: type[Spider]) -> Crawler:
    crawler = get_crawler(spider_cls, CRAWL_SETTINGS)
    await crawler.crawl_async()
    return crawler


def texts(response: Response) -> tuple[int, str | None, str | None, str | None]:
    return (
        response.status,
        response.css("#session::text").get(),
        response.css("#uses::text").get(),
        response.css("#identity::text").get(),
    )


@deferred_f_from_coro_f
async def test_scrapy_crawl_through_a_proxy_shows_the_proxy_identity(site, p1):
    crawler = await crawl(
        pages_spider(site, ("/page/1", "/page/2"), {"proxy": p1.proxy_url})
    )
    assert isinstance(crawler.spider, PagesSpider)
    landing, *pages = crawler.spider.responses
    session_id = landing.css("#session::text").get()
    assert [texts(response) for response in pages] == [
        (200, session_id, "1", f"p1|{USER_AGENT}"),
        (200, session_id, "2", f"p1|{USER_AGENT}"),
    ]
    assert p1.state() == {"name": "p1", "requests": 3, "rejected_auth": 0}
    assert [entry["identity"] for entry in site.state()["log"]] == [
        ["p1", USER_AGENT]
    ] * 3


@deferred_f_from_coro_f
async def test_scrapy_cookies_middleware_keeps_the_landing_cookie(site):
    crawler = await crawl(pages_spider(site, ("/page/1", "/page/2?set_cookie=a=1")))
    assert isinstance(crawler.spider, PagesSpider)
    landing, *pages = crawler.spider.responses
    session_id = landing.css("#session::text").get()
    assert [texts(response) for response in pages] == [
        (200, session_id, "1", f"direct|{USER_AGENT}"),
        (200, session_id, "2", f"direct|{USER_AGENT}"),
    ]
    assert site.state()["sessions_created"] == 1


class LoginSpider(Spider):
    """Log in with the form of the login page, then visit a logged-in page."""

    name = "login"
    site_url = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.responses: list[Response] = []

    async def start(self) -> AsyncIterator[Any]:
        yield Request(self.site_url + "/login", callback=self.log_in)

    def log_in(self, response: Response) -> Iterator[Request]:
        # The csrf cookie of the login page goes back with the form, through
        # Scrapy's CookiesMiddleware.
        yield FormRequest(
            response.urljoin(response.css("form::attr(action)").get("")),
            formdata={
                "csrf": response.css("input[name=csrf]::attr(value)").get(""),
                "user": "user",
                "password": "secret",
            },
            callback=self.logged_in,
        )

    def logged_in(self, response: Response) -> Iterator[Request]:
        self.responses.append(response)
        yield Request(self.site_url + "/account?login=1", callback=self.account)

    def account(self, response: Response) -> None:
        self.responses.append(response)


@deferred_f_from_coro_f
async def test_scrapy_logs_in_with_the_login_form(site):
    crawler = await crawl(
        type("TestLoginSpider", (LoginSpider,), {"site_url": site.url()})
    )
    assert isinstance(crawler.spider, LoginSpider)
    welcome, account = crawler.spider.responses
    session_id = welcome.css("#session::text").get()
    assert texts(account) == (200, session_id, "1", f"direct|{USER_AGENT}")
    assert site.state()["live_sessions"][session_id]["logged_in"] is True


def test_fake_servers_are_exported_lazily():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import sys, scrapy_session_pools.testing as t;"
                "assert 'scrapy_session_pools.testing.site' not in sys.modules;"
                "print(t.FakeSite.__module__, t.FakeProxy.__module__)"
            ),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == [
        "scrapy_session_pools.testing.site",
        "scrapy_session_pools.testing.proxy",
    ]


def test_landing_rate_limit_answers_429_to_its_first_requests(site):
    path = "/landing?rate_limit=1&retry_after=2"
    first = fetch(site.url(path))
    assert (first.status, first.headers["Retry-After"]) == (429, "2")
    assert fetch(site.url(path)).status == 200
    assert site.state()["faults"] == 1
