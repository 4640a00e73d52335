"""Waiting for a session with zero or tiny budgets (Pool, real event loop).

These drive a real :class:`Pool` on the crawl's asyncio loop, without a
crawl, to reach orderings of the event loop that a crawl only hits by
chance; the crawl-level behaviour is in ``test_compat.py``
(``zero-wait-time-many-attempts`` and ``tiny-wait-budget``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from scrapy import Request
from scrapy.utils.defer import deferred_f_from_coro_f

from scrapy_session_pools import SessionWaitTimeout
from scrapy_session_pools.backends import SessionKind
from scrapy_session_pools.pool import Pool
from scrapy_session_pools.pool_context import PoolContext
from scrapy_session_pools.pool_options import PoolOptions
from scrapy_session_pools.session import Limits, RetireReason, Session
from scrapy_session_pools.settings import PoolsSettings


class Events:
    """Pool events, ignored."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args: None


def session(session_id: str) -> Session:
    return Session(id=session_id, pool_id="example.com", created_at=time.monotonic())


def empty_pool(max_wait: float) -> Pool:
    """A pool of size 1 with no session, whose new sessions never finish."""

    async def create(pool: Pool, request: Request) -> Session:
        await asyncio.Event().wait()
        raise AssertionError("never created")

    pool = Pool(
        "example.com",
        PoolOptions(size=1, delay=0.0),
        kind=SessionKind.ZYTE_API,
        limits=Limits(),
        context=PoolContext(
            create_session=create, events=Events(), jitter=0.0, max_wait=max_wait
        ),
    )
    # Take the pool's one "own init" turn, and leave it with no session.
    first = session("first")
    pool.add(first)
    pool.retire(first, RetireReason.MANUAL)
    return pool


@deferred_f_from_coro_f
async def test_a_ready_session_is_given_with_no_wait_budget():
    pool = empty_pool(max_wait=0.0)
    ready = session("ready")
    pool.add(ready)
    try:
        assert await pool.acquire(Request("https://example.com/")) is ready
    finally:
        pool.close()
    assert ready.in_flight == 1


async def outcome(acquiring: asyncio.Future[Session]) -> Session | None:
    """The session *acquiring* got, or ``None`` if it timed out or was cancelled."""
    try:
        return await acquiring
    except (SessionWaitTimeout, asyncio.CancelledError):
        return None


@deferred_f_from_coro_f
async def test_a_waiter_served_as_it_times_out_keeps_its_slot():
    pool = empty_pool(max_wait=0.01)
    late = session("late")
    loop = asyncio.get_running_loop()

    def block_then_serve() -> None:
        # The wait times out while the loop is blocked; the session joins in
        # the next loop iteration, just before the timeout is handled.
        time.sleep(0.05)
        loop.call_soon(pool.add, late)

    acquiring = asyncio.ensure_future(pool.acquire(Request("https://example.com/")))
    await asyncio.sleep(0)  # the request now waits
    loop.call_soon(block_then_serve)
    try:
        got = await outcome(acquiring)
    finally:
        pool.close()
    # Whatever the Python version decides, the session's count of requests
    # in flight tells the truth: no slot is lost.
    assert late.in_flight == (1 if got is late else 0)


@deferred_f_from_coro_f
async def test_a_waiter_cancelled_after_being_served_gives_its_slot_back():
    pool = empty_pool(max_wait=10.0)
    late = session("late")
    acquiring = asyncio.ensure_future(pool.acquire(Request("https://example.com/")))
    await asyncio.sleep(0)  # the request now waits
    pool.add(late)  # serves the waiting request...
    acquiring.cancel()  # ...which is cancelled before it resumes
    try:
        got = await outcome(acquiring)
    finally:
        pool.close()
    assert late.in_flight == (1 if got is late else 0)


@pytest.mark.parametrize(
    ("wait_time", "attempts", "max_wait"),
    [
        pytest.param(1.0, 60, 60.0, id="default"),
        pytest.param(0.0, 10_000, 10.0, id="zero-wait-time"),
        pytest.param(0.001, 1, 0.001, id="tiny"),
        pytest.param(0.5, 4, 2.0, id="half-second"),
    ],
)
def test_each_wait_attempt_counts_for_at_least_a_millisecond(
    wait_time, attempts, max_wait
):
    settings = PoolsSettings(queue_wait_time=wait_time, queue_max_attempts=attempts)
    assert settings.max_wait == pytest.approx(max_wait)


@deferred_f_from_coro_f
async def test_a_free_session_with_the_fewest_in_flight_then_most_uses_serves():
    # Among sessions that may be used now, the least busy one serves, and of
    # those the most used: sessions reach their uses limit before their age.
    pool = empty_pool(max_wait=1.0)
    fresh, used = session("fresh"), session("used")
    used.uses = 5
    pool.add(fresh)
    pool.add(used)
    try:
        request = Request("https://example.com/")
        assert await pool.acquire(request) is used
        assert await pool.acquire(request) is fresh  # "used" has one in flight
        pool.release(used)
        assert await pool.acquire(request) is used
    finally:
        pool.close()


@deferred_f_from_coro_f
async def test_a_session_free_now_is_given_at_once_and_a_resting_one_is_not_booked():
    pool = empty_pool(max_wait=1.0)
    ready = session("ready")
    pool.add(ready)  # free now: no delay after its init
    pool.options = PoolOptions(size=1, delay=0.5, randomize_delay=False)
    request = Request("https://example.com/")
    try:
        assert pool.acquire_now(request) is ready
        assert (ready.in_flight, ready.uses) == (1, 1)
        # Its next turn is 0.5 s away: nothing now, and no turn booked.
        next_use = ready.next_use
        assert pool.acquire_now(request) is None
        assert (ready.in_flight, ready.booked, ready.next_use) == (1, 0, next_use)
    finally:
        pool.close()
