from __future__ import annotations

import asyncio
import itertools
from typing import TYPE_CHECKING, Any

import pytest
from scrapy import Request
from scrapy.exceptions import ScrapyDeprecationWarning
from scrapy.utils.defer import deferred_f_from_coro_f

from .helpers import (
    RecordingSpider,
    run_crawl,
    session_id_of,
    session_stats,
    spider_for,
    spider_of,
    spider_with,
    zyte_api_settings,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@deferred_f_from_coro_f
async def test_each_domain_gets_its_own_pool_with_per_pool_stats(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api, ZYTE_API_SESSION_POOL_SIZE=1, ZYTE_API_SESSION_STATS_PER_POOL=True
        ),
        spider_with(
            [
                Request("https://a.example/1"),
                Request("https://a.example/2"),
                Request("https://b.example:8080/1"),
            ]
        ),
    )
    assert session_stats(crawler) == {
        "pools/a.example/init/check-passed": 1,
        "pools/a.example/use/check-passed": 2,
        "pools/b.example:8080/init/check-passed": 1,
        "pools/b.example:8080/use/check-passed": 1,
    }


@deferred_f_from_coro_f
async def test_pool_meta_key_as_string_groups_domains_into_one_pool(zyte_api):
    meta = {"zyte_api_session_pool": "shared"}
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api, ZYTE_API_SESSION_POOL_SIZE=1, ZYTE_API_SESSION_STATS_PER_POOL=True
        ),
        spider_with(
            [
                Request("https://a.example/1", meta=meta),
                Request("https://b.example/1", meta=meta),
            ]
        ),
    )
    assert session_stats(crawler) == {
        "pools/shared/init/check-passed": 1,
        "pools/shared/use/check-passed": 2,
    }


@deferred_f_from_coro_f
async def test_pool_meta_key_as_dict_sets_the_pool_size(zyte_api):
    meta = {"zyte_api_session_pool": {"id": "custom", "size": 3}}
    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=1),
        spider_for("https://example.com/", requests=5, meta=meta),
    )
    assert session_stats(crawler) == {
        "init/check-passed": 3,
        "use/check-passed": 5,
    }


@deferred_f_from_coro_f
async def test_pools_setting_overrides_size_given_by_the_pool_dict(zyte_api):
    meta = {"zyte_api_session_pool": {"id": "custom", "size": 3}}
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_POOLS={"custom": {"size": 2}},
        ),
        spider_for("https://example.com/", requests=5, meta=meta),
    )
    assert session_stats(crawler) == {
        "init/check-passed": 2,
        "use/check-passed": 5,
    }


@deferred_f_from_coro_f
async def test_deprecated_pool_sizes_setting_still_sizes_pools(zyte_api):
    with pytest.warns(ScrapyDeprecationWarning, match="ZYTE_API_SESSION_POOL_SIZES"):
        crawler = await run_crawl(
            zyte_api_settings(
                zyte_api,
                ZYTE_API_SESSION_POOL_SIZE=1,
                ZYTE_API_SESSION_POOL_SIZES={"example.com": 2},
            ),
            spider_for("https://example.com/", requests=4),
        )
    assert session_stats(crawler) == {
        "init/check-passed": 2,
        "use/check-passed": 4,
    }


@deferred_f_from_coro_f
async def test_params_meta_key_makes_one_numbered_pool_per_distinct_value(zyte_api):
    first = {"zyte_api_session_params": {"browserHtml": True, "echoData": 1}}
    second = {"zyte_api_session_params": {"browserHtml": True, "echoData": 2}}
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api, ZYTE_API_SESSION_POOL_SIZE=1, ZYTE_API_SESSION_STATS_PER_POOL=True
        ),
        spider_with(
            [
                Request("https://example.com/1", meta=first),
                Request("https://example.com/2", meta=second),
                Request("https://example.com/3", meta=first),
            ]
        ),
    )
    assert session_stats(crawler) == {
        "pools/example.com[0]/init/check-passed": 1,
        "pools/example.com[0]/use/check-passed": 2,
        "pools/example.com[1]/init/check-passed": 1,
        "pools/example.com[1]/use/check-passed": 1,
    }


@deferred_f_from_coro_f
async def test_location_meta_key_makes_a_pool_per_address(zyte_api):
    meta = {
        "zyte_api_session_location": {
            "postalCode": "10001",
            "addressCountry": "US",
            "ignored": "x",
        }
    }
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api, ZYTE_API_SESSION_POOL_SIZE=1, ZYTE_API_SESSION_STATS_PER_POOL=True
        ),
        spider_for("https://example.com/", requests=2, meta=meta),
    )
    assert session_stats(crawler) == {
        "pools/example.com@US,10001/init/check-passed": 1,
        "pools/example.com@US,10001/use/check-passed": 2,
    }
    init = zyte_api.state()["log"][0]
    assert init["actions"] == ["setLocation"]


@deferred_f_from_coro_f
async def test_first_requests_of_a_pool_each_use_the_session_they_created(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=3),
        spider_for("https://example.com/", requests=3),
    )
    sessions = [session_id_of(response) for response in spider_of(crawler).responses]
    assert len(set(sessions)) == 3
    assert zyte_api.state()["sessions_created"] == 3


@deferred_f_from_coro_f
async def test_uses_of_a_session_are_spaced_by_the_session_delay(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_DELAY=0.3,
            ZYTE_API_SESSION_RANDOMIZE_DELAY=False,
        ),
        spider_for("https://example.com/", requests=3),
    )
    assert session_stats(crawler) == {
        "init/check-passed": 1,
        "use/check-passed": 3,
    }
    times = [entry["time"] for entry in zyte_api.state()["log"]]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # The init counts as a use; the server sees each use at least the delay
    # after the previous one (minus a little network jitter).
    assert len(gaps) == 3
    assert min(gaps) >= 0.25


@pytest.mark.parametrize(
    ("growth", "inits"),
    [
        pytest.param("eager", 5, id="eager-one-session-per-first-request"),
        pytest.param("on-demand", 1, id="on-demand-only-when-needed"),
    ],
)
@deferred_f_from_coro_f
async def test_pool_growth_policy_decides_how_many_sessions_start(
    zyte_api, growth, inits
):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=8,
            ZYTE_API_SESSION_POOL_GROWTH=growth,
        ),
        spider_for("https://example.com/", requests=5),
    )
    assert session_stats(crawler) == {
        "init/check-passed": inits,
        "use/check-passed": 5,
    }


@deferred_f_from_coro_f
async def test_default_pool_size_grows_on_demand(zyte_api):
    # No size set: the 5 requests of a website share the session that the
    # first one starts, where scrapy-zyte-api would start 5.
    crawler = await run_crawl(
        zyte_api_settings(zyte_api), spider_for("https://example.com/", requests=5)
    )
    assert session_stats(crawler) == {
        "init/check-passed": 1,
        "use/check-passed": 5,
    }
    created = [entry for entry in zyte_api.state()["log"] if entry["created_session"]]
    assert len(created) == 1


class SecondRequestWhileFirstInFlight(RecordingSpider):
    """Sends a slow request, then another one while the first is in flight.

    The session init of the first request is as slow as the request itself
    (1.5 s): the second one comes after the init, during the request.
    """

    async def start(self) -> AsyncIterator[Any]:
        yield Request(
            "https://example.com/slow?delay=1.5", callback=self.parse, dont_filter=True
        )
        await asyncio.sleep(2.2)
        yield Request("https://example.com/fast", callback=self.parse)


@pytest.mark.parametrize(
    ("settings", "inits"),
    [
        pytest.param({}, 2, id="default-grows-when-busy"),
        pytest.param({"ZYTE_API_SESSION_POOL_SIZE": 1}, 1, id="not-beyond-its-size"),
    ],
)
@deferred_f_from_coro_f
async def test_on_demand_pool_grows_when_every_session_is_busy(
    zyte_api, settings, inits
):
    # The second request finds the only session with a request in flight: a
    # second session starts, rather than piling requests onto one session.
    crawler = await run_crawl(
        zyte_api_settings(zyte_api, **settings), SecondRequestWhileFirstInFlight
    )
    assert session_stats(crawler) == {
        "init/check-passed": inits,
        "use/check-passed": 2,
    }
    log = zyte_api.state()["log"]
    assert sum(entry["created_session"] for entry in log) == inits
    slow, fast = (
        next(entry["session"] for entry in log if entry["url"].endswith(page))
        for page in ("/slow?delay=1.5", "/fast")
    )
    assert (slow != fast) is (inits == 2)


@deferred_f_from_coro_f
async def test_on_demand_pool_grows_when_its_sessions_rest(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=3,
            ZYTE_API_SESSION_POOL_GROWTH="on-demand",
            ZYTE_API_SESSION_DELAY=1,
            ZYTE_API_SESSION_RANDOMIZE_DELAY=False,
            CONCURRENT_REQUESTS=1,
            # One request at a time: none leaves the downloader to wait.
            ZYTE_API_SESSION_PARKING=False,
        ),
        spider_for("https://example.com/", requests=3),
    )
    # A session rests 1 s after each use (its init included). The 2nd request
    # finds the 1st session resting and starts a 2nd one; by the 3rd request
    # the 1st session has rested, so the pool stops growing below its size.
    assert session_stats(crawler) == {
        "init/check-passed": 2,
        "use/check-passed": 3,
    }
