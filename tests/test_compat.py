"""A spider written for scrapy-zyte-api's sessions gets the same stats."""

from __future__ import annotations

import pytest
from scrapy.utils.defer import deferred_f_from_coro_f

from .helpers import run_crawl, session_stats, spider_for, zyte_api_settings

ZYTE_API_PREFIX = "scrapy-zyte-api/sessions/"

SCENARIOS = [
    pytest.param(
        "https://example.com/", {"ZYTE_API_SESSION_POOL_SIZE": 2}, 5, 0, id="plain"
    ),
    pytest.param(
        "https://example.com/?ban_after=3",
        {"ZYTE_API_SESSION_POOL_SIZE": 1, "CONCURRENT_REQUESTS": 1},
        4,
        1,
        id="download-errors",
    ),
    pytest.param(
        "https://example.com/?expire_after=2",
        {"ZYTE_API_SESSION_POOL_SIZE": 1, "CONCURRENT_REQUESTS": 1},
        3,
        2,
        id="expiry",
    ),
    pytest.param(
        "https://example.com/",
        {
            "ZYTE_API_SESSION_POOL_SIZE": 1,
            "ZYTE_API_SESSION_LOCATION": {"postalCode": "10001"},
            "ZYTE_API_SESSION_STATS_PER_POOL": True,
        },
        2,
        0,
        id="location-per-pool",
    ),
    pytest.param(
        "https://example.com/?set_location=fail",
        {
            "ZYTE_API_SESSION_POOL_SIZE": 1,
            "ZYTE_API_SESSION_MAX_BAD_INITS": 2,
            "ZYTE_API_SESSION_LOCATION": {"postalCode": "10001"},
        },
        1,
        0,
        id="bad-inits",
    ),
]


@pytest.mark.parametrize(("url", "settings", "requests", "retired"), SCENARIOS)
@deferred_f_from_coro_f
async def test_same_session_stats_as_scrapy_zyte_api(
    zyte_api, url, settings, requests, retired
):
    theirs = await run_crawl(
        zyte_api_settings(zyte_api, ADDONS={"scrapy_zyte_api.Addon": 500}, **settings),
        spider_for(url, requests=requests),
    )
    their_stats = {
        key[len(ZYTE_API_PREFIX) :]: value
        for key, value in theirs.stats.get_stats().items()
        if key.startswith(ZYTE_API_PREFIX)
    }
    zyte_api.reset()
    ours = await run_crawl(
        zyte_api_settings(zyte_api, **settings), spider_for(url, requests=requests)
    )
    ours_stats = session_stats(ours)
    # Our extra stats count why sessions were retired; the rest must match.
    extra = {k: v for k, v in ours_stats.items() if "retired/" in k}
    assert {k: v for k, v in ours_stats.items() if k not in extra} == their_stats
    assert sum(extra.values()) == retired
    assert ours.stats.get_value("finish_reason") == theirs.stats.get_value(
        "finish_reason"
    )
