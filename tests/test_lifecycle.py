"""Lifecycle limits: age, idle time, uses, error decay, concurrency per session."""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from typing import Any

import pytest
from scrapy import Request
from scrapy.utils.defer import deferred_f_from_coro_f

from .helpers import (
    RecordingSpider,
    run_crawl,
    session_stats,
    spider_for,
    spider_with,
    zyte_api_settings,
)


@deferred_f_from_coro_f
async def test_sessions_are_renewed_before_they_reach_max_uses(zyte_api):
    # The fake API bans a session at its 6th use (the init is the 1st), so a
    # session may serve 4 requests; the pool renews it in the background.
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_MAX_USES=4,
            CONCURRENT_REQUESTS=1,
        ),
        spider_for("https://example.com/?ban_after=5", requests=10),
    )
    assert session_stats(crawler) == {
        "init/check-passed": 3,
        "use/check-passed": 10,
        "retired/max-uses": 2,
    }
    uses: dict[str, int] = defaultdict(int)
    for entry in zyte_api.state()["log"]:
        uses[entry["session"]] += 1
    assert sorted(uses.values()) == [3, 5, 5]


def sessions_uses(log: list[dict[str, Any]]) -> dict[str, list[float]]:
    times: dict[str, list[float]] = defaultdict(list)
    for entry in log:
        times[entry["session"]].append(entry["time"])
    return times


class PausingSpider(RecordingSpider):
    """Sends a first batch, pauses longer than the idle limit, then more."""

    async def start(self):
        for n in range(4):
            yield Request(f"https://example.com/a?page={n}", callback=self.parse)
        yield Request("https://example.com/pause", callback=self.parse_pause)

    async def parse_pause(self, response):
        self.responses.append(response)
        await asyncio.sleep(1.2)
        for n in range(30):
            yield Request(f"https://example.com/b?page={n}", callback=self.parse)


@pytest.mark.timeout(90)
@deferred_f_from_coro_f
async def test_crawl_with_scaled_zyte_api_lifetimes_sees_no_expired_session(zyte_api):
    # Zyte API: 15 min from creation, 2 min idle. Scaled: 3 s and 1 s on the
    # server. The safety margins are wider than the defaults' ratios
    # (14/15, 100/120): request latency and event-loop lag do not scale down
    # with the limits, and a busy CI machine can add a few hundred ms.
    zyte_api.configure(session_max_age=3.0, session_max_idle=1.0)
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=2,
            ZYTE_API_SESSION_DELAY=0.25,
            ZYTE_API_SESSION_RANDOMIZE_DELAY=False,
            ZYTE_API_SESSION_MAX_AGE=2.4,
            ZYTE_API_SESSION_MAX_IDLE=0.7,
            CONCURRENT_REQUESTS=4,
            LOG_LEVEL="INFO",
        ),
        PausingSpider,
    )
    stats = session_stats(crawler)
    assert "use/expired" not in stats
    assert stats["use/check-passed"] == 35
    # Both reasons of renewal happened for real.
    assert stats["retired/max-age"] >= 1
    assert stats["retired/max-idle"] >= 1
    assert [e for e in zyte_api.state()["log"] if e["problem"]] == []


@pytest.mark.parametrize(
    ("decay", "expected"),
    [
        pytest.param(
            0.0,
            {
                "init/check-passed": 2,
                "use/check-passed": 2,
                "use/failed": 2,
                "retired/errors": 1,
            },
            id="no-decay-errors-add-up",
        ),
        pytest.param(
            1.0,
            {"init/check-passed": 1, "use/check-passed": 2, "use/failed": 2},
            id="successes-forgive-errors",
        ),
    ],
)
@deferred_f_from_coro_f
async def test_error_score_decays_with_good_responses(zyte_api, decay, expected):
    urls = ["https://example.com/?error=520", "https://example.com/ok"] * 2
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_MAX_ERRORS=2,
            ZYTE_API_SESSION_ERROR_DECAY=decay,
            ZYTE_API_SESSION_PARAMS={"url": "https://example.com/init"},
            CONCURRENT_REQUESTS=1,
            RETRY_TIMES=0,
        ),
        spider_with([Request(url, dont_filter=True) for url in urls]),
    )
    assert session_stats(crawler) == expected


@pytest.mark.parametrize(
    ("max_concurrency", "overlaps"),
    [
        pytest.param(1, False, id="one-request-at-a-time"),
        pytest.param(None, True, id="no-limit"),
    ],
)
@deferred_f_from_coro_f
async def test_max_concurrency_limits_requests_in_flight_per_session(
    zyte_api, max_concurrency, overlaps
):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=2,
            ZYTE_API_SESSION_MAX_CONCURRENCY=max_concurrency,
            ZYTE_API_SESSION_PARAMS={"url": "https://example.com/init"},
            CONCURRENT_REQUESTS=8,
        ),
        spider_for("https://example.com/?delay=0.3", requests=6),
    )
    assert session_stats(crawler) == {
        "init/check-passed": 2,
        "use/check-passed": 6,
    }
    uses = [e for e in zyte_api.state()["log"] if not e["created_session"]]
    times = sessions_uses(uses)
    gaps = [
        later - earlier
        for session_times in times.values()
        for earlier, later in itertools.pairwise(sorted(session_times))
    ]
    # Each use takes 0.3 s on the server: uses of one session that end less
    # than 0.3 s apart were in flight together.
    assert any(gap < 0.2 for gap in gaps) is overlaps
