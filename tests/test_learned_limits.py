"""Pools learn the limits at which their sessions end, and retire them before.

The fake Zyte API bans each session after a fixed number of uses
(``ban_after``) or expires it at a fixed age (``session_max_age``): a
consistent limit, which the pool learns from the first few endings and
then keeps its sessions under.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import TYPE_CHECKING

import pytest
from scrapy.utils.defer import deferred_f_from_coro_f

from scrapy_session_pools import SessionControl
from scrapy_session_pools.lifetimes import MIN_ENDINGS, LearnedLimits, LifetimeLearner
from scrapy_session_pools.session import RetireReason, Session

from .helpers import run_crawl, session_stats, spider_for, spider_of, zyte_api_settings

if TYPE_CHECKING:
    from pathlib import Path

    from scrapy_session_pools.testing import FakeZyteAPI

PAGES = 120


def uses_per_session(server: FakeZyteAPI) -> Counter[str]:
    """Requests per session that the fake API answered, inits included."""
    return Counter(e["session"] for e in server.state()["log"] if e["session"])


@deferred_f_from_coro_f
async def test_a_pool_learns_a_ban_after_a_number_of_uses(
    zyte_api: FakeZyteAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api, ZYTE_API_SESSION_POOL_SIZE=2, CONCURRENT_REQUESTS=2
        ),
        # Each session is banned at its 6th use (the init is its 1st).
        spider_for("https://example.com/?ban_after=5", requests=PAGES),
    )
    spider = spider_of(crawler)
    assert len(spider.responses) == PAGES
    stats = session_stats(crawler)
    assert crawler.stats is not None
    assert crawler.stats.get_value("sessions/pools/example.com/learned/max-uses") == 4
    # Bans until the limit was learned (each failing up to the 2 requests in
    # flight on the session), then none: sessions retire at 4 uses.
    assert stats["use/failed"] <= 2 * MIN_ENDINGS
    assert stats["retired/max-uses"] >= (PAGES - 40) // 4
    assert (
        "Session pool example.com learned that its sessions end after 4 good "
        "uses" in caplog.text
    )
    # Shown in the control API and in the close summary too.
    [pool] = SessionControl.from_crawler(crawler).pools()
    assert pool.learned == {"max_uses": 4}
    assert "; max_uses 4" in caplog.text
    # What the server saw: the requests beyond the 5th of a session (its
    # init and 4 pages) are the failed ones; no session got more than 7.
    requests = uses_per_session(zyte_api).values()
    assert sum(max(0, n - 5) for n in requests) == stats["use/failed"]
    assert max(requests) <= 7


@deferred_f_from_coro_f
async def test_user_limits_win_over_learned_ones(zyte_api: FakeZyteAPI) -> None:
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=2,
            CONCURRENT_REQUESTS=2,
            ZYTE_API_SESSION_MAX_USES=10,
        ),
        spider_for("https://example.com/?ban_after=5", requests=60),
    )
    stats = session_stats(crawler)
    # Learned, but the setting decides: every session is banned.
    assert crawler.stats is not None
    assert crawler.stats.get_value("sessions/pools/example.com/learned/max-uses") == 4
    assert "retired/max-uses" not in stats
    assert stats["use/failed"] >= 60 // 5


@deferred_f_from_coro_f
async def test_learning_can_be_turned_off(zyte_api: FakeZyteAPI) -> None:
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=2,
            CONCURRENT_REQUESTS=2,
            ZYTE_API_SESSION_LEARN_LIMITS=False,
        ),
        spider_for("https://example.com/?ban_after=5", requests=60),
    )
    assert crawler.stats is not None
    assert (
        crawler.stats.get_value("sessions/pools/example.com/learned/max-uses") is None
    )
    assert "retired/max-uses" not in session_stats(crawler)


@pytest.mark.timeout(90)
@deferred_f_from_coro_f
async def test_a_pool_learns_an_expiry_age(
    zyte_api: FakeZyteAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    zyte_api.configure(session_max_age=0.6)
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=2,
            ZYTE_API_SESSION_DELAY=0.05,
            ZYTE_API_SESSION_RANDOMIZE_DELAY=False,
            CONCURRENT_REQUESTS=2,
        ),
        spider_for("https://example.com/", requests=PAGES),
    )
    spider = spider_of(crawler)
    assert len(spider.responses) == PAGES
    stats = session_stats(crawler)
    assert crawler.stats is not None
    learned = crawler.stats.get_value("sessions/pools/example.com/learned/max-age")
    # Ages count from the start of the init, a little before the server
    # creates the session: the learned age is about 0.6 s in our clock.
    assert learned is not None
    assert 0.5 < learned < 0.75
    assert stats["use/expired"] <= 2 * MIN_ENDINGS  # 2 requests in flight
    # At a steady pace the sessions also expire at a steady number of uses:
    # that is learned too, and may retire them first.
    assert stats.get("retired/max-age", 0) + stats.get("retired/max-uses", 0) >= 1
    assert "Session pool example.com learned that its sessions expire at" in (
        caplog.text
    )


# The learner alone (pure logic).


def ended_after(learner: LifetimeLearner, good_uses: int) -> None:
    session = Session(id="s", pool_id="p", created_at=0.0)
    session.good_uses = good_uses
    learner.session_ended(session, RetireReason.BLOCKED, 10.0)


def test_random_bans_teach_nothing_and_a_limit_is_learned_among_them() -> None:
    changes: list[LearnedLimits] = []
    learner = LifetimeLearner("p", changes.append)
    for uses in (3, 11, 7, 15, 1, 9):  # random: spread out
        ended_after(learner, uses)
    assert changes == []
    for uses in (20, 21, 20, 21, 20, 20, 21):
        ended_after(learner, uses)
    assert changes == []  # 7 of the last 12 agree: not two thirds
    ended_after(learner, 20)
    assert changes == [LearnedLimits(max_uses=20)]  # 8 of 12


def test_random_bans_after_a_learned_limit_do_not_lower_it() -> None:
    # Once sessions retire at the learned limit, only random bans end them
    # early: 5 of them close together among scattered others teach nothing.
    learner = LifetimeLearner("p", lambda learned: None)
    for _ in range(MIN_ENDINGS):
        ended_after(learner, 19)
    assert learner.learned.max_uses == 19
    for uses in (5, 13, 4, 9, 5, 16, 2, 4, 11, 5, 7, 12):
        ended_after(learner, uses)
    assert learner.learned.max_uses == 19


def test_a_stricter_limit_is_learned_again() -> None:
    learner = LifetimeLearner("p", lambda learned: None)
    for _ in range(MIN_ENDINGS):
        ended_after(learner, 20)
    assert learner.learned.max_uses == 20
    for _ in range(MIN_ENDINGS - 1):
        ended_after(learner, 10)
    assert learner.learned.max_uses == 20
    ended_after(learner, 10)
    assert learner.learned.max_uses == 10


@deferred_f_from_coro_f
async def test_learned_limits_are_saved_and_a_resumed_crawl_starts_with_them(
    zyte_api: FakeZyteAPI, tmp_path: Path
) -> None:
    settings = zyte_api_settings(
        zyte_api,
        ZYTE_API_SESSION_POOL_SIZE=2,
        CONCURRENT_REQUESTS=2,
        ZYTE_API_SESSION_STATE_FILE=str(tmp_path / "state.json"),
    )
    first = await run_crawl(
        settings, spider_for("https://example.com/?ban_after=5", requests=60)
    )
    assert first.stats is not None
    assert first.stats.get_value("sessions/pools/example.com/learned/max-uses") == 4
    saved = json.loads((tmp_path / "state.json").read_text())
    assert [pool["learned"] for pool in saved["pools"]] == [{"max_uses": 4}]
    zyte_api.reset()
    second = await run_crawl(
        settings, spider_for("https://example.com/?ban_after=5&run=2", requests=40)
    )
    assert second.stats is not None
    assert second.stats.get_value("sessions/pools/example.com/learned/max-uses") == 4
    # From its first session on, no session was banned.
    assert "use/failed" not in session_stats(second)
    assert max(uses_per_session(zyte_api).values()) <= 5
