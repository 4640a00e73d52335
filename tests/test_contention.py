from __future__ import annotations

import pytest
from scrapy.utils.defer import deferred_f_from_coro_f

from scrapy_session_pools import SessionWaitTimeout

from .helpers import run_crawl, session_stats, spider_for, spider_of, zyte_api_settings


@pytest.mark.timeout(120)
@deferred_f_from_coro_f
async def test_64_concurrent_requests_share_2_sessions_with_a_1_s_delay(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            CONCURRENT_REQUESTS=64,
            CONCURRENT_REQUESTS_PER_DOMAIN=64,
            ZYTE_API_SESSION_POOL_SIZE=2,
            ZYTE_API_SESSION_DELAY=1.0,
            ZYTE_API_SESSION_RANDOMIZE_DELAY=False,
            CLOSESPIDER_TIMEOUT=100,
            LOG_LEVEL="INFO",
        ),
        spider_for("https://example.com/", requests=64),
    )
    assert session_stats(crawler) == {
        "init/check-passed": 2,
        "use/check-passed": 64,
    }
    assert spider_of(crawler).failures == []
    assert crawler.stats.get_value("finish_reason") == "finished"


@deferred_f_from_coro_f
async def test_request_waiting_longer_than_the_queue_bound_fails(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_QUEUE_MAX_ATTEMPTS=1,
            ZYTE_API_SESSION_QUEUE_WAIT_TIME=0.05,
            ZYTE_API_SESSION_RANDOMIZE_DELAY=False,
            LOG_LEVEL="INFO",
        ),
        # The session is busy initializing (0.5 s) while the second request
        # may wait only 0.05 s.
        spider_for("https://example.com/?delay=0.5", requests=2),
    )
    assert session_stats(crawler) == {
        "init/check-passed": 1,
        "use/check-passed": 1,
    }
    [failure] = spider_of(crawler).failures
    assert failure.check(SessionWaitTimeout)
    assert "waited 0.05 s for a session of pool 'example.com'" in str(failure.value)
