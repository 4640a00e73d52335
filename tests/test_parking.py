"""A request that waits long for its session leaves the downloader (parking).

A slow pool (one session, a delay between its uses) next to a healthy one:
the requests of the slow pool wait for their turns outside Scrapy's
downloader, so that they do not hold its concurrency and the healthy pool
runs at its own pace. Measured side by side with scrapy-zyte-api in the
``slow-pool`` benchmark.
"""

from __future__ import annotations

import itertools
import logging
from typing import TYPE_CHECKING, Any

import pytest
from scrapy import Request
from scrapy.utils.defer import deferred_f_from_coro_f

from scrapy_session_pools import SessionWaitTimeout

from .helpers import (
    RecordingSpider,
    http_settings,
    parked,
    run_crawl,
    session_id_of,
    session_stats,
    spider_of,
    spider_with,
    zyte_api_settings,
)
from .test_http_sessions import landing

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from scrapy.http import Response

    from scrapy_session_pools.testing import FakeSite, FakeZyteAPI

SLOW = 4  # pages of the slow pool
HEALTHY = 40  # pages of the healthy pool


def slow_then_healthy(slow_url: str, healthy_url: str) -> list[Request]:
    """The slow pages first, so that they reach the downloader first; each
    healthy page takes 0.1 s."""
    return [Request(f"{slow_url}?page={n}") for n in range(SLOW)] + [
        Request(f"{healthy_url}?delay=0.1&page={n}") for n in range(HEALTHY)
    ]


def healthy_before_last_slow(spider: RecordingSpider, slow_host: str) -> int:
    """Return how many healthy pages were scraped before the last slow one."""
    hosts = [response.url.split("/")[2] for response in spider.responses]
    last_slow = max(i for i, host in enumerate(hosts) if host == slow_host)
    return sum(1 for host in hosts[:last_slow] if host != slow_host)


SLOW_POOL = {"size": 1, "delay": 0.5, "randomize_delay": False}
# How much later than its turn a request may reach the server under load.
TRANSIT = 0.25


@pytest.mark.parametrize("parking", [True, False], ids=["parking", "no-parking"])
@deferred_f_from_coro_f
async def test_a_slow_pool_does_not_hold_back_a_healthy_one(
    zyte_api: FakeZyteAPI, parking: bool
) -> None:
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            CONCURRENT_REQUESTS=SLOW,
            ZYTE_API_SESSION_POOLS={"slow.example": SLOW_POOL},
            ZYTE_API_SESSION_PARKING=parking,
        ),
        spider_with(
            slow_then_healthy("https://slow.example/", "https://healthy.example/")
        ),
    )
    spider = spider_of(crawler)
    assert spider.failures == []
    assert len(spider.responses) == SLOW + HEALTHY
    before = healthy_before_last_slow(spider, "slow.example")
    if parking:
        # The slow pages waited for their turns (0.5 s apart) outside the
        # downloader: every healthy page went through meanwhile.
        assert before == HEALTHY
        # Even the first: its session rests 0.5 s after its init.
        # Under load, a healthy request waiting for its init may park too.
        assert parked(crawler) >= SLOW
    else:
        # Waiting inside the downloader, they held all its slots.
        assert before < HEALTHY
        assert parked(crawler) == 0
    # The init and each slow page had their turns on the one session, 0.5 s
    # apart. The server sees arrivals: a request's way from its turn to the
    # server (middlewares, handler, client) takes up to a few tenths of a
    # second on a loaded machine, so one gap may shrink by that much while
    # the one before it grows; without the delay they would all be ~0.
    log = [e for e in zyte_api.state()["log"] if "slow.example" in (e["url"] or "")]
    times = [e["time"] for e in log]
    assert len(times) == 1 + SLOW
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap >= 0.5 - TRANSIT for gap in gaps), gaps
    assert all(
        times[k] - times[0] >= 0.5 * k - TRANSIT for k in range(1, len(times))
    ), times


@deferred_f_from_coro_f
async def test_a_slow_http_pool_does_not_hold_back_a_healthy_one(
    site: FakeSite,
) -> None:
    # Two pools on the same site: by a meta key, one slow, one healthy.
    slow = [
        Request(site.url(f"/page/s{n}"), meta={"zyte_api_session_pool": "slow"})
        for n in range(SLOW)
    ]
    healthy = [Request(site.url(f"/page/h{n}?delay=0.1")) for n in range(HEALTHY)]
    crawler = await run_crawl(
        http_settings(
            CONCURRENT_REQUESTS=SLOW,
            ZYTE_API_SESSION_PARAMS=landing(site),
            ZYTE_API_SESSION_POOLS={"slow": SLOW_POOL},
        ),
        spider_with(slow + healthy),
    )
    spider = spider_of(crawler)
    assert spider.failures == []
    paths = [response.url.rsplit("/", 1)[1][:1] for response in spider.responses]
    assert len(paths) == SLOW + HEALTHY
    last_slow = max(i for i, path in enumerate(paths) if path.startswith("s"))
    assert sum(1 for path in paths[:last_slow] if path.startswith("h")) == HEALTHY
    assert parked(crawler) >= SLOW  # healthy ones may park too, under load


@deferred_f_from_coro_f
async def test_a_request_waiting_for_a_first_session_stays_and_times_out(
    zyte_api: FakeZyteAPI,
) -> None:
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_QUEUE_MAX_ATTEMPTS=1,
            ZYTE_API_SESSION_QUEUE_WAIT_TIME=1,
        ),
        # The session takes 2 s to initialize; the second request may wait
        # 1 s for it. With no live session in the pool, neither is parked:
        # an init may fail and stop the crawl, and their errbacks must get it.
        spider_with(
            [Request(f"https://example.com/?delay=2&page={n}") for n in range(2)]
        ),
    )
    spider = spider_of(crawler)
    assert len(spider.responses) == 1
    [failure] = spider.failures
    assert failure.check(SessionWaitTimeout)
    assert parked(crawler) == 0


@deferred_f_from_coro_f
async def test_a_close_drops_parked_requests_and_says_so(
    zyte_api: FakeZyteAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOLS={"example.com": {"size": 1, "delay": 30}},
            CLOSESPIDER_TIMEOUT=2,
        ),
        spider_with([Request(f"https://example.com/?page={n}") for n in range(3)]),
    )
    assert crawler.stats is not None
    assert crawler.stats.get_value("finish_reason") == "closespider_timeout"
    # The session rests 30 s after its init: every page waited, parked.
    spider = spider_of(crawler)
    assert (spider.responses, spider.failures) == ([], [])
    assert parked(crawler) == 3
    assert (
        "The crawl closed with 3 request(s) waiting for a session outside the "
        "downloader; they are dropped, like the requests in the scheduler."
    ) in caplog.text
    assert zyte_api.state()["requests"] == 1  # the init


class _PinnedChain(RecordingSpider):
    """Five steps, each pinned to the session of the step before."""

    async def start(self) -> AsyncIterator[Any]:
        yield Request("https://example.com/step/0", callback=self.parse)

    def parse(self, response: Response) -> Iterator[Request]:  # type: ignore[override]  # also yields
        super().parse(response)
        step = int(response.url.rsplit("/", 1)[1])
        if step < 4:
            yield Request(
                f"https://example.com/step/{step + 1}",
                callback=self.parse,
                meta={"zyte_api_session_id": session_id_of(response)},
            )


@deferred_f_from_coro_f
async def test_a_pinned_request_comes_back_with_its_session(
    zyte_api: FakeZyteAPI,
) -> None:
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOLS={"example.com": SLOW_POOL},
        ),
        _PinnedChain,
    )
    spider = spider_of(crawler)
    assert [r.url.rsplit("/", 1)[1] for r in spider.responses] == list("01234")
    # Each step waited 0.5 s for its session's turn, outside the downloader.
    assert parked(crawler) >= 4
    sessions = {e["session"] for e in zyte_api.state()["log"]}
    assert len(sessions) == 1
    assert "use/pinned-session-lost" not in session_stats(crawler)
