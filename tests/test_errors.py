from __future__ import annotations

from scrapy.utils.defer import deferred_f_from_coro_f

from .helpers import run_crawl, session_stats, spider_for, spider_of, zyte_api_settings


@deferred_f_from_coro_f
async def test_download_error_discards_the_session_and_retries(zyte_api):
    # Sessions get banned at their 4th use (the init is the 1st).
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api, ZYTE_API_SESSION_POOL_SIZE=1, CONCURRENT_REQUESTS=1
        ),
        spider_for("https://example.com/?ban_after=3", requests=3),
    )
    assert session_stats(crawler) == {
        "init/check-passed": 2,
        "use/check-passed": 3,
        "use/failed": 1,
        "retired/errors": 1,
    }
    assert len(spider_of(crawler).responses) == 3
    assert crawler.stats.get_value("retry/reason_count/download_error") == 1


@deferred_f_from_coro_f
async def test_max_errors_keeps_a_session_until_it_has_that_many_errors(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_MAX_ERRORS=2,
            CONCURRENT_REQUESTS=1,
        ),
        spider_for("https://example.com/?ban_after=2", requests=2),
    )
    # The first session serves its init and one request, then fails twice
    # before it is replaced; the second one serves the retried request.
    assert session_stats(crawler) == {
        "init/check-passed": 2,
        "use/check-passed": 2,
        "use/failed": 2,
        "retired/errors": 1,
    }


@deferred_f_from_coro_f
async def test_expired_session_is_replaced_and_the_request_retried(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api, ZYTE_API_SESSION_POOL_SIZE=1, CONCURRENT_REQUESTS=1
        ),
        spider_for("https://example.com/?expire_after=3", requests=3),
    )
    assert session_stats(crawler) == {
        "init/check-passed": 2,
        "use/check-passed": 3,
        "use/expired": 1,
        "retired/expired": 1,
    }
    assert crawler.stats.get_value("retry/reason_count/session_expired") == 1


@deferred_f_from_coro_f
async def test_retries_use_the_scrapy_retry_budget(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_MAX_ERRORS=3,
            ZYTE_API_SESSION_PARAMS={"url": "https://example.com/init"},
            RETRY_TIMES=1,
        ),
        spider_for("https://example.com/?error=520", requests=1),
    )
    assert session_stats(crawler) == {
        "init/check-passed": 1,
        "use/failed": 2,
    }
    assert crawler.stats.get_value("retry/max_reached") == 1
    assert len(spider_of(crawler).failures) == 1


@deferred_f_from_coro_f
async def test_over_session_limit_is_retried_after_the_creation_delay(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_CREATION_RETRY_DELAY=0.01,
            ZYTE_API_SESSION_MAX_BAD_INITS=1,
        ),
        spider_for("https://example.com/?over_session_limit=2", requests=1),
    )
    assert session_stats(crawler) == {
        "init/over-limit": 2,
        "init/check-passed": 1,
        "use/check-passed": 1,
    }
    assert crawler.stats.get_value("finish_reason") == "finished"


@deferred_f_from_coro_f
async def test_session_creation_error_is_retried_after_the_creation_delay(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_CREATION_RETRY_DELAY=0.01,
            ZYTE_API_SESSION_MAX_BAD_INITS=1,
        ),
        spider_for("https://example.com/?creation_error=1", requests=1),
    )
    assert session_stats(crawler) == {
        "init/server-error": 1,
        "init/check-passed": 1,
        "use/check-passed": 1,
    }


@deferred_f_from_coro_f
async def test_failed_inits_in_a_row_close_the_spider(zyte_api, caplog):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_MAX_BAD_INITS=3,
        ),
        spider_for("https://example.com/?error=521", requests=4),
    )
    assert session_stats(crawler) == {"init/failed": 3}
    assert crawler.stats.get_value("finish_reason") == "bad_session_inits"
    assert "Session initialization for pool example.com" in caplog.text


@deferred_f_from_coro_f
async def test_max_bad_inits_per_pool_overrides_the_global_maximum(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_MAX_BAD_INITS=8,
            ZYTE_API_SESSION_MAX_BAD_INITS_PER_POOL={"example.com": 2},
        ),
        spider_for("https://example.com/?error=520", requests=1),
    )
    assert session_stats(crawler) == {"init/failed": 2}
    assert crawler.stats.get_value("finish_reason") == "bad_session_inits"
