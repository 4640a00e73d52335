"""How requests get (or do not get) sessions, and what the middleware writes."""

from __future__ import annotations

from scrapy import Request
from scrapy.utils.defer import deferred_f_from_coro_f

from scrapy_session_pools import get_request_session_id, is_session_init_request

from .helpers import (
    RecordingSpider,
    http_settings,
    run_crawl,
    session_id_of,
    session_stats,
    spider_for,
    spider_of,
    spider_with,
    zyte_api_settings,
)


@deferred_f_from_coro_f
async def test_disabled_sessions_are_counted_and_requests_get_none(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_ENABLED=False),
        spider_for("https://example.com/", requests=2),
    )
    assert session_stats(crawler) == {"use/disabled": 2}
    assert zyte_api.state()["sessions_created"] == 0


@deferred_f_from_coro_f
async def test_meta_key_disables_sessions_for_one_request(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=1),
        spider_with(
            [
                Request("https://example.com/1"),
                Request(
                    "https://example.com/2", meta={"zyte_api_session_enabled": False}
                ),
            ]
        ),
    )
    assert session_stats(crawler) == {
        "init/check-passed": 1,
        "use/check-passed": 1,
        "use/disabled": 1,
    }


@deferred_f_from_coro_f
async def test_meta_key_enables_sessions_for_one_request(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api, ZYTE_API_SESSION_ENABLED=False, ZYTE_API_SESSION_POOL_SIZE=1
        ),
        spider_with(
            [Request("https://example.com/1", meta={"zyte_api_session_enabled": True})]
        ),
    )
    assert session_stats(crawler) == {
        "init/check-passed": 1,
        "use/check-passed": 1,
    }


@deferred_f_from_coro_f
async def test_outside_transparent_mode_plain_requests_become_zyte_api_requests(
    zyte_api,
):
    # As in scrapy-zyte-api: with its download handler as the transport, a
    # plain request with sessions enabled gets its session in "zyte_api",
    # and so is sent through Zyte API.
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api, ZYTE_API_TRANSPARENT_MODE=False, ZYTE_API_SESSION_POOL_SIZE=1
        ),
        spider_with(
            [
                Request(
                    "https://example.com/api", meta={"zyte_api": {"browserHtml": True}}
                ),
                Request("https://example.com/plain"),
            ]
        ),
    )
    by_url = {r.url: r for r in spider_of(crawler).responses}
    for response in by_url.values():
        assert response.meta["zyte_api"]["session"]["id"] == session_id_of(response)
        assert response.meta["_session_pools_kind"] == "zyte_api"
    assert session_stats(crawler) == {
        "init/check-passed": 1,
        "use/check-passed": 2,
    }
    # One init (for whichever request came first) and two uses, all with the
    # session.
    log = zyte_api.state()["log"]
    assert len(log) == 3
    assert {e["url"] for e in log} == {
        "https://example.com/api",
        "https://example.com/plain",
    }
    assert {e["session"] for e in log} == {session_id_of(by_url[url]) for url in by_url}


@deferred_f_from_coro_f
async def test_http_sessions_are_chosen_explicitly_in_a_zyte_api_crawl(zyte_api):
    plain_url = zyte_api.url("/_state")
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_TRANSPARENT_MODE=False,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_KIND="http",
        ),
        spider_with([Request(plain_url)]),
    )
    [response] = spider_of(crawler).responses
    assert "zyte_api" not in response.meta
    assert response.meta["_session_pools_kind"] == "http"
    assert response.meta["_session_pools_session_id"] == session_id_of(response)
    assert session_stats(crawler) == {
        "init/check-passed": 1,
        "use/check-passed": 1,
    }
    assert zyte_api.state()["log"] == []


@deferred_f_from_coro_f
async def test_automap_false_requests_get_zyte_api_sessions_in_zyte_api_meta(
    zyte_api,
):
    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=1),
        spider_with(
            [Request("https://example.com/", meta={"zyte_api_automap": False})]
        ),
    )
    [response] = spider_of(crawler).responses
    assert response.meta["zyte_api_automap"] is False
    assert response.meta["zyte_api"]["session"]["id"] == session_id_of(response)
    assert session_stats(crawler) == {
        "init/check-passed": 1,
        "use/check-passed": 1,
    }
    assert [e["url"] for e in zyte_api.state()["log"]] == [
        "https://example.com/",
        "https://example.com/",
    ]


@deferred_f_from_coro_f
async def test_requests_that_skip_zyte_api_get_http_sessions_when_asked(zyte_api):
    plain_url = zyte_api.url("/_state")
    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=1),
        spider_with(
            [
                Request(
                    plain_url,
                    meta={"zyte_api_automap": False, "zyte_api_session_kind": "http"},
                )
            ]
        ),
    )
    assert session_stats(crawler) == {
        "init/check-passed": 1,
        "use/check-passed": 1,
    }
    [response] = spider_of(crawler).responses
    assert response.meta["_session_pools_kind"] == "http"
    assert zyte_api.state()["log"] == []


@deferred_f_from_coro_f
async def test_without_a_zyte_api_handler_sessions_are_http_sessions(site, caplog):
    caplog.set_level("INFO")
    crawler = await run_crawl(
        http_settings(
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_PARAMS={"url": site.url("/landing")},
        ),
        spider_with([Request(site.url("/page/1"))]),
    )
    [response] = spider_of(crawler).responses
    assert response.meta["_session_pools_kind"] == "http"
    pool = site.url().split("//")[1].rstrip("/")
    assert (
        f"Session pool {pool}: HTTP sessions (the crawl has no Zyte API download "
        "handler)" in caplog.messages
    )


@deferred_f_from_coro_f
async def test_shared_meta_dicts_are_not_mutated(zyte_api):
    shared = {"browserHtml": True}
    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=2),
        spider_with(
            [
                Request("https://example.com/1", meta={"zyte_api_automap": shared}),
                Request("https://example.com/2", meta={"zyte_api_automap": shared}),
            ]
        ),
    )
    assert shared == {"browserHtml": True}
    sessions = {session_id_of(r) for r in spider_of(crawler).responses}
    assert len(sessions) == 2


@deferred_f_from_coro_f
async def test_session_requests_do_not_merge_cookies_unless_asked(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=1),
        spider_with(
            [
                Request("https://example.com/1"),
                Request("https://example.com/2", meta={"dont_merge_cookies": False}),
            ]
        ),
    )
    by_url = {r.url: r for r in spider_of(crawler).responses}
    assert by_url["https://example.com/1"].meta["dont_merge_cookies"] is True
    assert by_url["https://example.com/2"].meta["dont_merge_cookies"] is False


class SessionIdSpider(RecordingSpider):
    start_requests_list = [Request("https://example.com/")]

    def parse(self, response):
        self.session_ids = (
            get_request_session_id(response.request),
            is_session_init_request(response.request),
        )
        super().parse(response)


@deferred_f_from_coro_f
async def test_callbacks_can_read_the_session_id_of_a_response(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=1), SessionIdSpider
    )
    spider = crawler.spider
    assert isinstance(spider, SessionIdSpider)
    [live] = zyte_api.state()["live_sessions"]
    assert spider.session_ids == (live, False)


@deferred_f_from_coro_f
async def test_bad_pool_value_closes_the_spider_with_pool_error(zyte_api, caplog):
    crawler = await run_crawl(
        zyte_api_settings(zyte_api),
        spider_with(
            [Request("https://example.com/", meta={"zyte_api_session_pool": 123})]
        ),
    )
    assert crawler.stats.get_value("finish_reason") == "pool_error"
    assert session_stats(crawler) == {"pool-error": 1}
    assert "must be a non-empty string or a dict with an 'id' key" in caplog.text


@deferred_f_from_coro_f
async def test_close_request_stops_session_work_in_every_pool_at_once(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_MAX_BAD_INITS=1,
        ),
        spider_with(
            [
                # Its session takes 2 s to initialize...
                Request("https://slow.example/?delay=2"),
                Request("https://slow.example/?delay=2&page=2"),
                # ...while this pool fails at once and closes the spider.
                Request("https://broken.example/?error=521"),
            ]
        ),
    )
    assert crawler.stats.get_value("finish_reason") == "bad_session_inits"
    assert session_stats(crawler) == {"init/failed": 1}
    assert spider_of(crawler).responses == []


@deferred_f_from_coro_f
async def test_retry_policy_set_on_a_request_is_kept(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=1),
        spider_with(
            [
                Request("https://example.com/1"),
                Request(
                    "https://example.com/2",
                    meta={"zyte_api_retry_policy": "zyte_api.aggressive_retrying"},
                ),
            ]
        ),
    )
    policies = {
        r.url: r.meta["zyte_api_retry_policy"] for r in spider_of(crawler).responses
    }
    assert policies == {
        "https://example.com/1": "scrapy_session_pools.SESSION_DEFAULT_RETRY_POLICY",
        "https://example.com/2": "zyte_api.aggressive_retrying",
    }


@deferred_f_from_coro_f
async def test_cookie_mode_sends_the_session_cookies_instead_of_a_session_id(
    zyte_api,
):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api, ZYTE_API_SESSION_POOL_SIZE=1, ZYTE_API_SESSION_COOKIE_MODE=True
        ),
        spider_with(
            [
                Request("https://example.com/?set_cookie=sid=abc"),
                Request("https://example.com/2"),
            ]
        ),
    )
    assert session_stats(crawler) == {
        "init/check-passed": 1,
        "use/check-passed": 2,
    }
    state = zyte_api.state()
    assert state["sessions_created"] == 0
    pages = {r.url: r.css("#cookies::text").get() for r in spider_of(crawler).responses}
    assert pages["https://example.com/2"] == '["sid=abc"]'
    for response in spider_of(crawler).responses:
        assert response.request is not None
        assert (
            get_request_session_id(response.request)
            == response.meta["_zyte_api_cookie_session_id"]
        )
