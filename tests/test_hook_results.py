"""Hooks that return a wrong type, and the errors requests fail with."""

from __future__ import annotations

from typing import Any

import pytest
from scrapy import Request
from scrapy.utils.defer import deferred_f_from_coro_f

from scrapy_session_pools import (
    PoolError,
    SessionConfig,
    TooManyBadSessionInits,
    is_session_init_request,
    session_config,
)

from .helpers import run_crawl, session_stats, spider_of, spider_with, zyte_api_settings


@pytest.mark.parametrize(
    "value", ["False", None, 1], ids=["string-False", "None", "one"]
)
@deferred_f_from_coro_f
async def test_a_use_check_that_returns_no_bool_is_a_check_error(
    zyte_api, caplog, value
):
    @session_config("example.com")
    class Sloppy(SessionConfig):
        def check(self, response: Any, request: Any) -> Any:
            if is_session_init_request(request):
                return True
            return value

    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=1, RETRY_TIMES=0),
        spider_with([Request("https://example.com/")]),
    )
    stats = session_stats(crawler)
    assert stats["use/check-error"] == 1
    assert "use/check-passed" not in stats
    assert f"Sloppy.check() must return True or False, got {value!r}" in caplog.text


@deferred_f_from_coro_f
async def test_an_init_check_that_returns_no_bool_is_an_init_check_error(
    zyte_api, caplog
):
    @session_config("example.com")
    class Sloppy(SessionConfig):
        def check(self, response: Any, request: Any) -> Any:
            return "yes"

    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api, ZYTE_API_SESSION_POOL_SIZE=1, ZYTE_API_SESSION_MAX_BAD_INITS=2
        ),
        spider_with([Request("https://example.com/")]),
    )
    assert session_stats(crawler) == {"init/check-error": 2}
    assert crawler.stats.get_value("finish_reason") == "bad_session_inits"
    # The request that waited for the session fails with the reason.
    [failure] = spider_of(crawler).failures
    assert failure.check(TooManyBadSessionInits)
    assert "Sloppy.check() must return True or False, got 'yes' (str)" in caplog.text


@deferred_f_from_coro_f
async def test_a_failing_pool_hook_fails_its_request_with_pool_error(zyte_api):
    @session_config("example.com")
    class NoPool(SessionConfig):
        def pool(self, request: Any) -> Any:
            return 5

    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=1),
        spider_with([Request("https://example.com/")]),
    )
    assert crawler.stats.get_value("finish_reason") == "pool_error"
    [failure] = spider_of(crawler).failures
    assert failure.check(PoolError)
