"""Plain-HTTP sessions against the session-gated test site, through proxies."""

from __future__ import annotations

import itertools
import json
from http.client import HTTPConnection
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from scrapy import FormRequest, Request
from scrapy.utils.defer import deferred_f_from_coro_f

from scrapy_session_pools import SessionConfig, SessionControl, session_config

from .helpers import (
    http_settings,
    run_crawl,
    session_stats,
    spider_of,
    spider_with,
    zyte_api_settings,
)

if TYPE_CHECKING:
    from scrapy_session_pools.testing import FakeSite


def pages(site: FakeSite, count: int, query: str = "") -> list[Request]:
    return [Request(site.url(f"/page/{n}{query}")) for n in range(count)]


def page_field(response: Any, name: str) -> str | None:
    value = response.css(f"#{name}::text").get()
    return value if value is None else str(value)


def landing(site: FakeSite) -> dict[str, Any]:
    return {"url": site.url("/landing")}


def statuses(site: FakeSite) -> list[int]:
    return sorted({entry["status"] for entry in site.state()["log"]})


@deferred_f_from_coro_f
async def test_landing_page_cookies_become_the_session(site):
    crawler = await run_crawl(
        http_settings(
            ZYTE_API_SESSION_POOL_SIZE=2, ZYTE_API_SESSION_PARAMS=landing(site)
        ),
        spider_with(pages(site, 6)),
    )
    assert session_stats(crawler) == {
        "init/check-passed": 2,
        "use/check-passed": 6,
    }
    state = site.state()
    responses = spider_of(crawler).responses
    assert {page_field(r, "session") for r in responses} == set(state["live_sessions"])
    assert state["sessions_created"] == 2
    assert statuses(site) == [200]


@deferred_f_from_coro_f
async def test_session_cookies_stay_apart_from_scrapy_cookies(site):
    # The first request, without a session, gets a cookie into Scrapy's own
    # jar; session requests neither send it nor learn from them.
    crawler = await run_crawl(
        http_settings(
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_PARAMS=landing(site),
            CONCURRENT_REQUESTS=1,
        ),
        spider_with(
            [
                Request(site.url("/landing"), meta={"zyte_api_session_enabled": False}),
                *pages(site, 2, "?set_cookie=extra=1"),
                Request(
                    site.url("/page/global"), meta={"zyte_api_session_enabled": False}
                ),
            ]
        ),
    )
    by_path = {urlsplit(r.url).path: r for r in spider_of(crawler).responses}
    global_sid = page_field(by_path["/page/global"], "session")
    session_sids = {page_field(by_path[f"/page/{n}"], "session") for n in range(2)}
    assert len(session_sids) == 1
    assert global_sid not in session_sids
    request = by_path["/page/1"].request
    assert request is not None
    headers = request.headers.getlist("Cookie")
    assert b"extra=1" in headers[0]


@deferred_f_from_coro_f
async def test_each_session_takes_the_next_profile(site, proxies, caplog):
    profiles = [
        {
            "name": p.name,
            "proxy": p.proxy_url,
            "headers": {"User-Agent": f"ua-{p.name}"},
        }
        for p in proxies
    ]
    crawler = await run_crawl(
        http_settings(
            ZYTE_API_SESSION_POOL_SIZE=4,
            ZYTE_API_SESSION_PARAMS=landing(site),
            ZYTE_API_SESSION_PROFILES=profiles,
        ),
        spider_with(pages(site, 12)),
    )
    assert session_stats(crawler) == {
        "init/check-passed": 4,
        "use/check-passed": 12,
    }
    identities = {page_field(r, "identity") for r in spider_of(crawler).responses}
    assert identities == {"p1|ua-p1", "p2|ua-p2", "p3|ua-p3", "p4|ua-p4"}
    assert statuses(site) == [200]
    assert "secret1" not in caplog.text
    assert "secret2" not in caplog.text


@deferred_f_from_coro_f
async def test_blocked_status_retires_the_session_and_retries(site):
    crawler = await run_crawl(
        http_settings(
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_PARAMS=landing(site),
            CONCURRENT_REQUESTS=1,
        ),
        spider_with(pages(site, 4, "?ban_after=3")),
    )
    assert session_stats(crawler) == {
        "init/check-passed": 2,
        "use/check-passed": 4,
        "use/blocked": 1,
        "retired/blocked": 1,
    }
    assert crawler.stats.get_value("retry/reason_count/session_blocked") == 1


@deferred_f_from_coro_f
async def test_rate_limited_session_is_paused_not_retired(site):
    crawler = await run_crawl(
        http_settings(
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_PARAMS=landing(site),
            CONCURRENT_REQUESTS=2,
        ),
        spider_with(pages(site, 3, "?min_interval=0.5&retry_after=1")),
    )
    stats = session_stats(crawler)
    assert stats["init/check-passed"] == 1
    assert stats["use/check-passed"] == 3
    assert stats["use/rate-limited"] >= 1
    assert not [key for key in stats if key.startswith("retired/")]
    log = site.state()["log"]
    throttled = [e["time"] for e in log if e["status"] == 429]
    later = [e["time"] for e in log if e["status"] == 200 and e["time"] > throttled[0]]
    # The paused session was not used again before Retry-After (1 s) passed.
    assert min(later) - throttled[0] >= 0.9


class LoginConfig(SessionConfig):
    """Logs in with the login form: GET the form, POST it with its token."""

    login_url = ""

    async def init_session(self, session_id, request, download):
        form = await download(Request(self.login_url))
        token = form.css("input[name=csrf]::attr(value)").get()
        welcome = await download(
            FormRequest(
                self.login_url,
                formdata={"user": "user", "password": "secret", "csrf": token or ""},
            )
        )
        return welcome.status == 200


@deferred_f_from_coro_f
async def test_login_form_chain_logs_each_session_in(site):
    config = session_config(urlsplit(site.url()).netloc)(
        type("SiteLogin", (LoginConfig,), {"login_url": site.url("/login")})
    )
    assert config
    crawler = await run_crawl(
        http_settings(ZYTE_API_SESSION_POOL_SIZE=2),
        spider_with(pages(site, 4, "?login=1")),
    )
    assert session_stats(crawler) == {
        "init/check-passed": 2,
        "use/check-passed": 4,
    }
    assert all(s["logged_in"] for s in site.state()["live_sessions"].values())


@deferred_f_from_coro_f
async def test_form_data_params_post_the_login_form(site):
    # Without the CSRF token the login is refused: the init check fails.
    crawler = await run_crawl(
        http_settings(
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_MAX_BAD_INITS=2,
            ZYTE_API_SESSION_PARAMS={
                "url": site.url("/login"),
                "formdata": {"user": "user", "password": "secret"},
            },
        ),
        spider_with(pages(site, 1)),
    )
    assert session_stats(crawler) == {"init/check-failed": 2}
    assert [e["status"] for e in site.state()["log"]] == [403, 403]
    assert crawler.stats.get_value("finish_reason") == "bad_session_inits"


def real_session(site: FakeSite) -> str:
    """Get a session cookie the way a browser would, outside Scrapy."""
    parts = urlsplit(site.url())
    connection = HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    connection.request("GET", "/landing", headers={"User-Agent": "test-agent"})
    response = connection.getresponse()
    cookie = response.getheader("Set-Cookie") or ""
    response.read()
    connection.close()
    return cookie.split(";")[0].split("=", 1)[1]


@pytest.mark.parametrize("from_file", [False, True], ids=["setting", "file"])
@deferred_f_from_coro_f
async def test_seeded_sessions_are_used_before_any_init(site, tmp_path, from_file):
    sid = real_session(site)
    host = urlsplit(site.url()).hostname
    pool = urlsplit(site.url()).netloc
    seeds: Any = {pool: [{"cookies": [{"name": "sid", "value": sid, "domain": host}]}]}
    if from_file:
        path = tmp_path / "seeds.json"
        path.write_text(json.dumps(seeds), encoding="utf-8")
        seeds = str(path)
    crawler = await run_crawl(
        http_settings(
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_PARAMS=landing(site),
            ZYTE_API_SESSION_SEEDS=seeds,
            CONCURRENT_REQUESTS=1,
        ),
        spider_with(pages(site, 3, "?ban_after=2")),
    )
    # The seed serves two pages, is banned at the third, and an initialized
    # session replaces it.
    assert session_stats(crawler) == {
        "init/check-passed": 1,
        "use/check-passed": 3,
        "use/blocked": 1,
        "retired/blocked": 1,
    }
    responses = spider_of(crawler).responses
    assert [page_field(r, "session") for r in responses][:2] == [sid, sid]


@deferred_f_from_coro_f
async def test_connection_errors_through_a_proxy_count_against_the_session(site):
    dead_proxy = "http://127.0.0.1:9"
    host = urlsplit(site.url()).hostname
    pool = urlsplit(site.url()).netloc
    crawler = await run_crawl(
        http_settings(
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_PARAMS=landing(site),
            ZYTE_API_SESSION_SEEDS={
                pool: [
                    {
                        "proxy": dead_proxy,
                        "cookies": [{"name": "sid", "value": "x", "domain": host}],
                    }
                ]
            },
            RETRY_TIMES=2,
        ),
        spider_with(pages(site, 1)),
    )
    assert session_stats(crawler) == {
        "use/failed": 1,
        "retired/errors": 1,
        "init/check-passed": 1,
        "use/check-passed": 1,
    }


@pytest.mark.timeout(120)
@deferred_f_from_coro_f
async def test_gated_site_crawl_with_four_profiles_never_uses_a_dead_session(
    site, proxies
):
    # The site bans a session at its 21st page and expires it after 10 s;
    # the pool retires sessions before either happens.
    site.configure(ban_after=20, expire_after=10.0)
    profiles = [
        {
            "name": p.name,
            "proxy": p.proxy_url,
            "headers": {"User-Agent": f"ua-{p.name}"},
        }
        for p in proxies
    ]
    crawler = await run_crawl(
        http_settings(
            ZYTE_API_SESSION_POOL_SIZE=4,
            ZYTE_API_SESSION_PARAMS=landing(site),
            ZYTE_API_SESSION_PROFILES=profiles,
            ZYTE_API_SESSION_MAX_USES=20,
            ZYTE_API_SESSION_MAX_AGE=9.0,
            ZYTE_API_SESSION_DELAY=0.4,
            CONCURRENT_REQUESTS=8,
            CLOSESPIDER_TIMEOUT=100,
            LOG_LEVEL="INFO",
        ),
        spider_with(pages(site, 160)),
    )
    responses = spider_of(crawler).responses
    assert len(responses) == 160
    log = site.state()["log"]
    page_statuses = {e["status"] for e in log if e["path"].startswith("/page/")}
    assert page_statuses == {200}
    stats = session_stats(crawler)
    assert stats["use/check-passed"] == 160
    retired = {k: v for k, v in stats.items() if k.startswith("retired/")}
    assert set(retired) <= {"retired/max-uses", "retired/max-age"}
    [pool] = SessionControl.from_crawler(crawler).pools()
    # Every session created is either live or retired for a counted reason.
    assert stats["init/check-passed"] == sum(retired.values()) + len(pool.sessions)
    assert sum(pool.retired.values()) == sum(retired.values())
    identities = {page_field(r, "identity") for r in responses}
    assert identities == {"p1|ua-p1", "p2|ua-p2", "p3|ua-p3", "p4|ua-p4"}


@deferred_f_from_coro_f
async def test_http_session_chosen_per_request_stays_off_zyte_api(site, zyte_api):
    session_config(urlsplit(site.url()).netloc)(
        type("SiteLogin", (LoginConfig,), {"login_url": site.url("/login")})
    )
    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=1),
        spider_with(
            [
                Request(
                    site.url(f"/page/{n}?login=1"),
                    meta={"zyte_api_session_kind": "http"},
                )
                for n in range(2)
            ]
        ),
    )
    assert session_stats(crawler) == {
        "init/check-passed": 1,
        "use/check-passed": 2,
    }
    assert zyte_api.state()["requests"] == 0
    assert [e["status"] for e in site.state()["log"]] == [200, 200, 200, 200]


@deferred_f_from_coro_f
async def test_a_rate_limited_init_pauses_the_pool_inits_for_retry_after(site):
    # The landing page answers 429 (Retry-After: 1) to its first 2 requests.
    crawler = await run_crawl(
        http_settings(
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_PARAMS={
                "url": site.url("/landing?rate_limit=2&retry_after=1")
            },
        ),
        spider_with(pages(site, 3)),
    )
    assert len(spider_of(crawler).responses) == 3
    assert session_stats(crawler) == {
        "init/rate-limited": 2,
        "init/check-passed": 1,
        "use/check-passed": 3,
    }
    # Not resent at once by Scrapy's retry middleware: one init per second.
    landings = [e for e in site.state()["log"] if e["path"].startswith("/landing")]
    assert [e["status"] for e in landings] == [429, 429, 200]
    times = [e["time"] for e in landings]
    assert all(b - a >= 0.9 for a, b in itertools.pairwise(times))
    assert crawler.stats.get_value("retry/count") is None
