"""Unit tests of the pure session logic (no crawl)."""

from __future__ import annotations

import re

import pytest
from scrapy import Request

from scrapy_session_pools import get_request_session_id, is_session_init_request
from scrapy_session_pools.backends import SessionKind
from scrapy_session_pools.pool import Pool
from scrapy_session_pools.pool_context import PoolContext
from scrapy_session_pools.pool_options import PoolOptions
from scrapy_session_pools.session import Limits, RetireReason, Session


def make_session() -> Session:
    return Session(id="s1", pool_id="example.com", created_at=100.0)


def test_reservations_are_spaced_by_the_delay():
    session = make_session()
    assert session.reserve(now=100.0, delay=2.0) == 100.0
    assert session.reserve(now=100.5, delay=2.0) == 102.0
    assert session.reserve(now=110.0, delay=2.0) == 110.0
    assert session.next_use == 112.0
    # Booked turns are uses only once their requests are sent.
    assert (session.uses, session.booked) == (0, 3)
    session.use()
    session.use()
    session.cancel_turn()
    assert (session.uses, session.booked) == (2, 0)


def test_booked_turns_count_against_the_uses_limit():
    from scrapy_session_pools.session import Limits

    limits = Limits(max_uses=2)
    session = make_session()
    session.reserve(now=100.0, delay=0.0)
    session.reserve(now=100.0, delay=0.0)
    # Booked out, but not at its limit until both turns are used.
    assert session.turn_limit(100.0, limits) is RetireReason.MAX_USES
    assert session.limit_reached(100.0, limits) is None
    session.cancel_turn()
    assert session.turn_limit(100.0, limits) is None
    session.use()
    session.reserve(now=100.0, delay=0.0)
    session.use()
    assert session.limit_reached(100.0, limits) is RetireReason.MAX_USES


@pytest.mark.parametrize(
    ("maximum", "errors_to_retire"),
    [
        pytest.param(0, 1, id="zero-behaves-like-one"),
        pytest.param(1, 1, id="one"),
        pytest.param(3, 3, id="three"),
    ],
)
def test_errors_retire_a_session_at_the_maximum(maximum, errors_to_retire):
    session = make_session()
    results = [session.record_error(maximum) for _ in range(errors_to_retire)]
    assert results == [False] * (errors_to_retire - 1) + [True]


def test_check_failures_retire_a_session_at_the_maximum():
    session = make_session()
    assert session.record_check_failure(2) is False
    assert session.record_check_failure(2) is True


def test_retiring_twice_only_counts_once_and_frees_cookies():
    session = make_session()
    session.cookies = [{"name": "a", "value": "1"}]
    assert session.is_alive
    assert session.retire(RetireReason.EXPIRED) is True
    assert session.retire(RetireReason.ERRORS) is False
    assert session.retire_reason is RetireReason.EXPIRED
    assert not session.cookies
    assert not session.is_alive


def pool_with(options: PoolOptions, jitter: float) -> Pool:
    async def create(pool: Pool, request: Request) -> Session:
        raise AssertionError("not called")

    return Pool(
        "example.com",
        options,
        kind=SessionKind.ZYTE_API,
        limits=Limits(),
        context=PoolContext(
            create_session=create,
            events=None,  # type: ignore[arg-type]  # sample_delay() sends no event
            jitter=jitter,
            max_wait=1.0,
        ),
    )


@pytest.mark.parametrize(
    ("options", "jitter", "low", "high"),
    [
        pytest.param(
            PoolOptions(delay=2.0, randomize_delay=False), 0.5, 2.0, 2.0, id="off"
        ),
        pytest.param(PoolOptions(delay=2.0), 0.5, 1.0, 3.0, id="jitter-0.5"),
        pytest.param(PoolOptions(delay=2.0), 0.1, 1.8, 2.2, id="jitter-0.1"),
        pytest.param(PoolOptions(delay=2.0), 0.0, 2.0, 2.0, id="jitter-0"),
        pytest.param(PoolOptions(delay=0.0), 0.5, 0.0, 0.0, id="no-delay"),
    ],
)
def test_session_delay_varies_by_download_delay_jitter(options, jitter, low, high):
    pool = pool_with(options, jitter)
    delays = [pool.sample_delay() for _ in range(200)]
    assert all(low <= delay <= high for delay in delays)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        pytest.param({"size": 0}, "size: expected an integer >= 1, got 0", id="size"),
        pytest.param(
            {"delay": "1"}, "delay: expected a finite number >= 0, got '1'", id="delay"
        ),
        pytest.param(
            {"delay": float("inf")},
            "delay: expected a finite number >= 0, got inf",
            id="delay-inf",
        ),
        pytest.param(
            {"max_age": float("nan")},
            "max_age: expected a finite number > 0, got nan",
            id="max-age-nan",
        ),
        pytest.param(
            {"randomize_delay": 1},
            "randomize_delay: expected True or False, got 1",
            id="randomize",
        ),
        pytest.param(
            {"szie": 1},
            "unknown key 'szie' (expected some of size, delay, randomize_delay, "
            "max_age, max_idle, max_uses, max_concurrency, error_decay, kind, "
            "growth)",
            id="unknown-key",
        ),
    ],
)
def test_pool_options_reject_bad_values(mapping, message):
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        PoolOptions.from_mapping(mapping, PoolOptions())


def test_session_id_helpers_read_every_meta_location(caplog):
    assert (
        get_request_session_id(
            Request(
                "https://a.example",
                meta={"zyte_api_provider": {"session": {"id": "p"}}},
            )
        )
        == "p"
    )
    assert (
        get_request_session_id(
            Request(
                "https://a.example",
                meta={"zyte_api_automap": True, "_zyte_api_cookie_session_id": "c"},
            )
        )
        == "c"
    )
    assert (
        get_request_session_id(
            Request("https://a.example", meta={"zyte_api_automap": True})
        )
        is None
    )
    assert "had no session ID assigned" in caplog.text
    assert is_session_init_request(
        Request("https://a.example", meta={"_is_session_init_request": True})
    )
    assert not is_session_init_request(
        Request("https://a.example", meta={"_is_session_init_request": 1})
    )


def test_profiles_are_taken_in_turn_and_rest_longer_after_each_ban():
    from scrapy_session_pools.identities import (
        BASE_PROFILE_REST,
        Profile,
        ProfileRotation,
    )

    a, b = Profile("a"), Profile("b")
    rotation = ProfileRotation((a, b))
    assert [rotation.take(0.0)[0].name for _ in range(3)] == ["a", "b", "a"]
    assert rotation.record_ban(a, now=0.0) == BASE_PROFILE_REST
    assert rotation.record_ban(a, now=0.0) == 2 * BASE_PROFILE_REST
    # a rests: b is taken every time until a's rest is over.
    assert [rotation.take(1.0)[0].name for _ in range(2)] == ["b", "b"]
    rotation.record_ban(b, now=1.0)
    # Both rest: the one free first is taken, with the time it is free.
    assert rotation.take(2.0) == (b, 1.0 + BASE_PROFILE_REST)
    rotation.record_success(a)
    assert rotation.record_ban(a, now=100.0) == BASE_PROFILE_REST


def test_the_least_used_profile_is_taken():
    from scrapy_session_pools.identities import Profile, ProfileRotation

    a, b, c = Profile("a"), Profile("b"), Profile("c")
    rotation = ProfileRotation((a, b, c))
    # In turn, a would be next after c; but a is in use and b is free.
    assert rotation.take(0.0, {"a": 1, "c": 1})[0] == b
    # Among equally used profiles, the next in turn (after b: c).
    assert rotation.take(0.0, {"a": 1, "b": 1, "c": 1})[0] == c


def test_profile_repr_hides_proxy_credentials():
    from scrapy_session_pools.identities import Profile

    profile = Profile("p", proxy="http://user:secret@proxy.example:8080")
    assert "secret" not in repr(profile)
    assert "***@proxy.example:8080" in repr(profile)


def test_limits_forbid_uses_past_them_and_renew_before():
    from scrapy_session_pools.session import Limits

    limits = Limits(max_age=10.0, max_idle=2.0, max_uses=10)
    session = Session(id="s", pool_id="p", created_at=0.0)
    assert session.limit_reached(1.0, limits) is None
    assert session.renewal_due(1.0, limits) is None
    assert session.renewal_due(9.0, limits) is RetireReason.MAX_AGE
    assert session.limit_reached(10.0, limits) is RetireReason.MAX_AGE
    assert session.limit_reached(2.5, limits) is RetireReason.MAX_IDLE
    session.uses = 8
    assert session.renewal_due(1.0, limits) is RetireReason.MAX_USES
    session.uses = 10
    assert session.limit_reached(1.0, limits) is RetireReason.MAX_USES
