"""Redirects keep their session; Scrapy retries get a new assignment."""

from __future__ import annotations

from scrapy import Request
from scrapy.utils.defer import deferred_f_from_coro_f

from .helpers import (
    run_crawl,
    session_id_of,
    session_stats,
    spider_of,
    spider_with,
    zyte_api_settings,
)


@deferred_f_from_coro_f
async def test_redirected_request_keeps_its_session(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=2),
        spider_with(
            [Request("https://example.com/start?redirect=https://example.com/final")]
        ),
    )
    [response] = spider_of(crawler).responses
    assert response.url == "https://example.com/final"
    state = zyte_api.state()
    assert state["sessions_created"] == 1
    assert [entry["session"] for entry in state["log"]] == [session_id_of(response)] * 3
    assert session_stats(crawler) == {
        "init/check-passed": 1,
        "use/check-passed": 2,
    }


@deferred_f_from_coro_f
async def test_request_retried_by_scrapy_gets_a_new_session(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=2,
            ZYTE_API_SESSION_PARAMS={"url": "https://example.com/init"},
            RETRY_TIMES=1,
            RETRY_HTTP_CODES=[503],
        ),
        spider_with([Request("https://example.com/?status=503")]),
    )
    state = zyte_api.state()
    uses = [
        entry["session"]
        for entry in state["log"]
        if entry["url"] == "https://example.com/?status=503"
    ]
    assert len(uses) == 2
    assert uses[0] != uses[1]
    assert state["sessions_created"] == 2
    assert crawler.stats.get_value("retry/reason_count/503 Service Unavailable") == 1
