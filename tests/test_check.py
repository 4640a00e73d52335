from __future__ import annotations

from scrapy.utils.defer import deferred_f_from_coro_f

from .helpers import run_crawl, session_stats, spider_for, spider_of, zyte_api_settings

LOCATION = {"postalCode": "10001"}


@deferred_f_from_coro_f
async def test_failed_set_location_fails_the_init_check(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_MAX_BAD_INITS=2,
            ZYTE_API_SESSION_LOCATION=LOCATION,
        ),
        spider_for("https://example.com/?set_location=fail", requests=1),
    )
    assert session_stats(crawler) == {"init/check-failed": 2}
    assert crawler.stats.get_value("finish_reason") == "bad_session_inits"


@deferred_f_from_coro_f
async def test_failed_action_passes_when_action_failures_do_not_invalidate(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_INIT_ACTION_FAILURE_INVALIDATES_SESSION=False,
            ZYTE_API_SESSION_PARAMS={
                "browserHtml": True,
                "actions": [{"action": "setLocation", "address": LOCATION}],
            },
        ),
        spider_for("https://example.com/?set_location=fail", requests=1),
    )
    assert session_stats(crawler) == {
        "init/check-passed": 1,
        "use/check-passed": 1,
    }


@deferred_f_from_coro_f
async def test_failed_action_fails_the_init_check_by_default(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_MAX_BAD_INITS=1,
            ZYTE_API_SESSION_PARAMS={
                "browserHtml": True,
                "actions": [{"action": "setLocation", "address": LOCATION}],
            },
        ),
        spider_for("https://example.com/?set_location=fail", requests=1),
    )
    assert session_stats(crawler) == {"init/check-failed": 1}


@deferred_f_from_coro_f
async def test_unsupported_set_location_closes_the_spider(zyte_api, caplog):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api, ZYTE_API_SESSION_POOL_SIZE=1, ZYTE_API_SESSION_LOCATION=LOCATION
        ),
        spider_for("https://example.com/?set_location=unsupported", requests=3),
    )
    assert crawler.stats.get_value("finish_reason") == "unsupported_set_location"
    assert session_stats(crawler) == {}
    assert "does not support the setLocation action" in caplog.text


@deferred_f_from_coro_f
async def test_checker_setting_replaces_the_default_check(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_CHECKER="tests.checkers.FailUsesAfterFirstChecker",
            CONCURRENT_REQUESTS=1,
        ),
        spider_for("https://example.com/", requests=2),
    )
    # Uses: init 1, first request 2, second request 3 (fails, session
    # replaced), retry on the new session 2.
    assert session_stats(crawler) == {
        "init/check-passed": 2,
        "use/check-passed": 2,
        "use/check-failed": 1,
        "retired/check-failures": 1,
    }
    assert crawler.stats.get_value("retry/reason_count/session_expired") == 1


@deferred_f_from_coro_f
async def test_max_check_failures_keeps_the_session_until_reached(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_CHECKER="tests.checkers.FailUsesAfterFirstChecker",
            ZYTE_API_SESSION_MAX_CHECK_FAILURES=2,
            CONCURRENT_REQUESTS=1,
        ),
        spider_for("https://example.com/", requests=2),
    )
    # The second request fails twice with the first session (uses 3 and 4)
    # before a new session serves it.
    assert session_stats(crawler) == {
        "init/check-passed": 2,
        "use/check-passed": 2,
        "use/check-failed": 2,
        "retired/check-failures": 1,
    }


@deferred_f_from_coro_f
async def test_checker_built_with_from_crawler(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_MAX_BAD_INITS=1,
            ZYTE_API_SESSION_CHECKER="tests.checkers.CrawlerAwareChecker",
            TEST_REJECT_INITS=True,
        ),
        spider_for("https://example.com/", requests=1),
    )
    assert session_stats(crawler) == {"init/check-failed": 1}
    assert crawler.stats.get_value("finish_reason") == "bad_session_inits"


@deferred_f_from_coro_f
async def test_check_that_raises_is_logged_counted_and_the_request_retried(
    zyte_api, caplog
):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_CHECKER="tests.checkers.RaisingOnceChecker",
        ),
        spider_for("https://example.com/", requests=1),
    )
    assert session_stats(crawler) == {
        "init/check-passed": 2,
        "use/check-error": 1,
        "use/check-passed": 1,
        "retired/check-error": 1,
    }
    assert "SessionConfig.check() raised an exception" in caplog.text
    assert "ValueError: checker bug" in caplog.text
    assert len(spider_of(crawler).responses) == 1


@deferred_f_from_coro_f
async def test_check_raising_close_spider_closes_with_its_reason(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_CHECKER="tests.checkers.ClosingChecker",
        ),
        spider_for("https://example.com/", requests=2),
    )
    assert crawler.stats.get_value("finish_reason") == "custom_reason"
    assert session_stats(crawler) == {}


@deferred_f_from_coro_f
async def test_init_check_that_raises_is_logged_and_counts_as_a_bad_init(
    zyte_api, caplog
):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_MAX_BAD_INITS=2,
            ZYTE_API_SESSION_CHECKER="tests.checkers.RaisingOnInitChecker",
        ),
        spider_for("https://example.com/", requests=1),
    )
    assert session_stats(crawler) == {"init/check-error": 2}
    assert crawler.stats.get_value("finish_reason") == "bad_session_inits"
    assert "RuntimeError: init checker bug" in caplog.text
