"""A request answered after its session retired is retried for free.

The death of a session is counted once, by the request whose answer showed
it; requests that were in flight on it meanwhile are retried on another
session without using up their RETRY_TIMES.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy import Request
from scrapy.utils.defer import deferred_f_from_coro_f

from .helpers import run_crawl, session_stats, spider_of, spider_with, zyte_api_settings

if TYPE_CHECKING:
    from scrapy_session_pools.testing import FakeZyteAPI

# Both go out on the one session of the pool. The server handles "ban" first:
# the session is banned from its 2nd use (its init is the 1st), so "late",
# handled 0.3 s later, is refused too, after the first answer retired it.
BAN = "https://example.com/ban?ban_after=1"
LATE = "https://example.com/late?delay=0.3"


def _settings(zyte_api: FakeZyteAPI, **settings: Any) -> dict[str, Any]:
    return zyte_api_settings(
        zyte_api,
        **{
            "ZYTE_API_SESSION_POOL_SIZE": 1,
            "CONCURRENT_REQUESTS": 2,
            "RETRY_TIMES": 0,
            **settings,
        },
    )


@deferred_f_from_coro_f
async def test_a_request_in_flight_on_a_dying_session_is_retried_for_free(zyte_api):
    crawler = await run_crawl(
        _settings(zyte_api), spider_with([Request(BAN), Request(LATE)])
    )
    spider = spider_of(crawler)
    # The request that saw the ban counts its retry (none left: it fails);
    # the one answered after the session retired goes again, uncounted.
    assert [response.url for response in spider.responses] == [LATE]
    assert len(spider.failures) == 1
    assert session_stats(crawler) == {
        "init/check-passed": 2,
        "use/failed": 2,
        "retired/errors": 1,
        "use/late-retry": 1,
        "use/check-passed": 1,
    }
    assert crawler.stats.get_value("retry/count") is None
    log = zyte_api.state()["log"]
    late = [entry for entry in log if entry["url"] == LATE]
    assert [entry["status"] for entry in late] == [520, 200]
    assert late[0]["session"] != late[1]["session"]


@deferred_f_from_coro_f
async def test_each_session_death_uses_up_one_retry(zyte_api):
    # Every session is banned at its first use after its init. Of the
    # requests in flight on a session, the first answered counts the death
    # (RETRY_TIMES = 0: it fails); the others go again on a new session,
    # where the same happens: 3 sessions, 3 failures, 2 + 1 free retries.
    urls = [f"https://example.com/{n}?ban_after=1&delay=0.{n}" for n in (1, 3, 5)]
    crawler = await run_crawl(
        _settings(zyte_api, CONCURRENT_REQUESTS=3),
        spider_with([Request(url) for url in urls]),
    )
    spider = spider_of(crawler)
    assert spider.responses == []
    assert len(spider.failures) == 3
    stats = session_stats(crawler)
    assert stats["use/late-retry"] == 3
    assert stats["retired/errors"] == 3
    # What the server saw of each request (inits aside): one more try for
    # each request that was in flight when a session died.
    tries = {
        url: [
            entry["session"]
            for entry in zyte_api.state()["log"]
            if entry["url"] == url and not entry["created_session"]
        ]
        for url in urls
    }
    assert [len(set(sessions)) for sessions in tries.values()] == [1, 2, 3]


@deferred_f_from_coro_f
async def test_a_session_that_retired_at_its_limit_gives_no_free_retry(
    zyte_api: FakeZyteAPI,
) -> None:
    # Both requests are the 2 uses the session may have; the first answer
    # retires it at its limit, not dead. The second fails on its own (520):
    # that is news, so its retry counts (RETRY_TIMES = 0: it fails).
    crawler = await run_crawl(
        _settings(zyte_api, ZYTE_API_SESSION_MAX_USES=2),
        spider_with(
            [
                Request("https://example.com/ok"),
                Request("https://example.com/bad?error=520&delay=0.3"),
            ]
        ),
    )
    spider = spider_of(crawler)
    assert [response.url for response in spider.responses] == ["https://example.com/ok"]
    assert len(spider.failures) == 1
    stats = session_stats(crawler)
    assert stats["retired/max-uses"] == 1
    assert "use/late-retry" not in stats
    bad = [e for e in zyte_api.state()["log"] if e["url"].endswith("delay=0.3")]
    assert [entry["status"] for entry in bad] == [520]
