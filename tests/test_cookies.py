"""Cookie mode: client-side cookie jars per session."""

from __future__ import annotations

from typing import Any

import pytest
from scrapy import Request
from scrapy.utils.defer import deferred_f_from_coro_f

from scrapy_session_pools.cookies import cookies_for_url, merge_cookies

from .helpers import run_crawl, session_stats, spider_of, spider_with, zyte_api_settings

NOW = 1_000_000.0


def cookie(
    name: str = "a",
    value: str = "1",
    domain: str = "example.com",
    path: str = "/",
    **extra: Any,
) -> dict[str, Any]:
    return {"name": name, "value": value, "domain": domain, "path": path, **extra}


def names(cookies: list[dict[str, Any]]) -> list[str]:
    return sorted(c["name"] for c in cookies)


@pytest.mark.parametrize(
    ("stored", "url", "sent"),
    [
        pytest.param(cookie(), "https://example.com/x", ["a"], id="host-only-match"),
        pytest.param(cookie(), "https://www.example.com/x", [], id="host-only-no-sub"),
        pytest.param(
            cookie(domain=".example.com"),
            "https://www.example.com/",
            ["a"],
            id="domain",
        ),
        pytest.param(
            cookie(domain=".example.com"), "https://badexample.com/", [], id="suffix"
        ),
        pytest.param(
            cookie(domain="other.com"), "https://example.com/", [], id="other"
        ),
        pytest.param(
            cookie(path="/shop"), "https://example.com/shop/1", ["a"], id="path"
        ),
        pytest.param(
            cookie(path="/shop"), "https://example.com/shopping", [], id="prefix"
        ),
        pytest.param(
            cookie(path="/shop/"), "https://example.com/shop/", ["a"], id="slash"
        ),
        pytest.param(cookie(secure=True), "http://example.com/", [], id="secure-http"),
        pytest.param(cookie(secure=True), "https://example.com/", ["a"], id="secure"),
        pytest.param(cookie(expires=NOW - 1), "https://example.com/", [], id="expired"),
        pytest.param(
            cookie(expires=NOW + 60), "https://example.com/", ["a"], id="alive"
        ),
    ],
)
def test_cookies_are_sent_only_where_they_belong(stored, url, sent):
    assert names(cookies_for_url([stored], url, NOW)) == sent


def test_received_cookies_replace_and_delete_stored_ones():
    jar = merge_cookies([], [cookie("a", "1"), cookie("b", "2")], NOW)
    jar = merge_cookies(jar, [cookie("a", "3"), cookie("b", "", expires=0)], NOW)
    assert jar == [cookie("a", "3")]
    jar = merge_cookies(jar, [cookie("a", "4", path="/shop")], NOW)
    assert len(jar) == 2


@deferred_f_from_coro_f
async def test_session_cookies_follow_domain_and_deletion_rules(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_COOKIE_MODE=True,
            CONCURRENT_REQUESTS=1,
        ),
        spider_with(
            [
                Request("https://example.com/?set_cookie=sid=abc"),
                Request("https://other.example/?set_cookie=sid=xyz"),
                Request("https://example.com/2?set_cookie=seen=1"),
                Request("https://example.com/3?delete_cookie=seen"),
                Request("https://example.com/4"),
                Request("https://other.example/2"),
            ]
        ),
    )
    assert session_stats(crawler) == {
        "init/check-passed": 2,
        "use/check-passed": 6,
    }
    pages = {r.url: r.css("#cookies::text").get() for r in spider_of(crawler).responses}
    assert pages == {
        "https://example.com/?set_cookie=sid=abc": '["sid=abc"]',
        "https://other.example/?set_cookie=sid=xyz": '["sid=xyz"]',
        "https://example.com/2?set_cookie=seen=1": '["sid=abc"]',
        "https://example.com/3?delete_cookie=seen": '["seen=1", "sid=abc"]',
        "https://example.com/4": '["sid=abc"]',
        "https://other.example/2": '["sid=xyz"]',
    }
    assert zyte_api.state()["sessions_created"] == 0


@deferred_f_from_coro_f
async def test_cookies_never_cross_to_another_session_of_the_pool(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=2,
            ZYTE_API_SESSION_COOKIE_MODE=True,
            CONCURRENT_REQUESTS=1,
        ),
        spider_with(
            [
                Request("https://example.com/?set_cookie=sid=abc"),
                Request("https://example.com/2"),
            ]
        ),
    )
    pages = {r.url: r.css("#cookies::text").get() for r in spider_of(crawler).responses}
    assert pages == {
        "https://example.com/?set_cookie=sid=abc": '["sid=abc"]',
        "https://example.com/2": "[]",
    }


@deferred_f_from_coro_f
async def test_cookie_mode_meta_key_enables_it_per_request(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=1),
        spider_with(
            [
                Request(
                    "https://example.com/?set_cookie=sid=abc",
                    meta={"zyte_api_session_cookie_mode": True},
                ),
                Request("https://other.example/"),
            ]
        ),
    )
    by_url = {r.url: r for r in spider_of(crawler).responses}
    assert (
        "_zyte_api_cookie_session_id"
        in by_url["https://example.com/?set_cookie=sid=abc"].meta
    )
    assert "_zyte_api_cookie_session_id" not in by_url["https://other.example/"].meta
    assert zyte_api.state()["sessions_created"] == 1
