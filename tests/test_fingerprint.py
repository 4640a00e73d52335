from __future__ import annotations

import asyncio

import pytest
from scrapy import Request
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.test import get_crawler
from scrapy_zyte_api import ScrapyZyteAPIRequestFingerprinter

from scrapy_session_pools import SessionConfig, session_config
from scrapy_session_pools.integrations.fingerprint import attach_pool_lookup

from .helpers import run_crawl, spider_of, spider_with, zyte_api_settings


@pytest.mark.parametrize(
    ("pools", "downloaded"),
    [
        pytest.param(("a", "b"), 2, id="different-pools"),
        pytest.param(("a", "a"), 1, id="same-pool"),
    ],
)
@deferred_f_from_coro_f
async def test_requests_in_different_pools_are_not_duplicates(
    zyte_api, pools, downloaded
):
    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=1),
        spider_with(
            [
                Request("https://example.com/", meta={"zyte_api_session_pool": pool})
                for pool in pools
            ]
        ),
    )
    assert len(spider_of(crawler).responses) == downloaded
    assert crawler.stats.get_value("dupefilter/filtered", 0) == 2 - downloaded


@deferred_f_from_coro_f
async def test_fingerprinting_does_not_number_param_pools(zyte_api):
    """Fingerprinting sees the pool but does not change pool numbering."""
    params = [{"browserHtml": True, "echoData": n} for n in (1, 2)]
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api, ZYTE_API_SESSION_POOL_SIZE=1, ZYTE_API_SESSION_STATS_PER_POOL=True
        ),
        spider_with(
            [
                Request("https://example.com/", meta={"zyte_api_session_params": value})
                for value in params
            ]
        ),
    )
    assert len(spider_of(crawler).responses) == 2
    keys = {
        key for key in crawler.stats.get_stats() if key.startswith("sessions/pools/")
    }
    assert keys == {
        "sessions/pools/example.com[0]/init/check-passed",
        "sessions/pools/example.com[0]/use/check-passed",
        "sessions/pools/example.com[1]/init/check-passed",
        "sessions/pools/example.com[1]/use/check-passed",
    }


@pytest.mark.parametrize(
    ("pools", "downloaded"),
    [
        pytest.param(("a", "b"), 2, id="different-pools"),
        pytest.param(("a", "a"), 1, id="same-pool"),
    ],
)
@deferred_f_from_coro_f
async def test_async_pool_hooks_count_in_fingerprints(zyte_api, pools, downloaded):
    @session_config("example.com")
    class AsyncPools(SessionConfig):
        async def enabled(self, request):
            return True

        async def pool(self, request):
            return request.meta["pool"]

    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=1),
        spider_with(
            [Request("https://example.com/", meta={"pool": pool}) for pool in pools]
        ),
    )
    assert len(spider_of(crawler).responses) == downloaded
    assert crawler.stats.get_value("dupefilter/filtered", 0) == 2 - downloaded


@deferred_f_from_coro_f
async def test_a_pool_hook_that_waits_makes_fingerprints_unique(zyte_api, caplog):
    @session_config("example.com")
    class WaitingPool(SessionConfig):
        async def pool(self, request):
            await asyncio.sleep(0)
            return "a"

    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=1),
        spider_with([Request("https://example.com/") for _ in range(2)]),
    )
    # Never dropped as duplicates, with a warning that says why.
    assert len(spider_of(crawler).responses) == 2
    assert "WaitingPool.enabled() or .pool() waits for something" in caplog.text


class UncachedFingerprinter(ScrapyZyteAPIRequestFingerprinter):
    """A fingerprinter that looks its session middleware up every time."""

    @property
    def _session_mw(self):
        return None


def test_a_fingerprinter_that_ignores_our_pools_is_reported(caplog):
    crawler = get_crawler()
    crawler.request_fingerprinter = UncachedFingerprinter.from_crawler(crawler)  # type: ignore[no-untyped-call]  # untyped upstream
    assert attach_pool_lookup(crawler, object()) is False  # type: ignore[arg-type]
    assert "requests that differ only in their session pool" in caplog.text
