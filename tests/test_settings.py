from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from scrapy.exceptions import ScrapyDeprecationWarning
from scrapy.settings import Settings
from scrapy.utils.defer import deferred_f_from_coro_f
from twisted.internet.error import ConnectError

from scrapy_session_pools import InvalidSettings
from scrapy_session_pools.pool_options import PoolOptions
from scrapy_session_pools.settings import PoolsSettings
from scrapy_session_pools.zyte_api_settings import (
    AGGRESSIVE_RETRY_POLICY_PATH,
    DEFAULT_RETRY_POLICY_PATH,
)

from .helpers import run_crawl, spider_for, zyte_api_settings


def read(**values: Any) -> PoolsSettings:
    return PoolsSettings.from_settings(Settings(values))


def test_defaults_match_the_documented_defaults():
    settings = read()
    # Connection errors come from Scrapy's RETRY_EXCEPTIONS (ConnectError is
    # in it on every supported Scrapy; its other entries vary by release).
    assert ConnectError in settings.connection_errors
    settings = dataclasses.replace(settings, connection_errors=())
    assert settings == PoolsSettings(
        enabled=False,
        pool_size=8,
        pools={},
        delay=0.0,
        randomize_delay=True,
        jitter=0.5,
        location={},
        params={},
        checker=None,
        init_action_failure_invalidates_session=True,
        cookie_mode=False,
        max_errors=1,
        max_check_failures=1,
        max_bad_inits=8,
        max_bad_inits_per_pool={},
        queue_max_attempts=60,
        queue_wait_time=1.0,
        creation_retry_delay=60.0,
        retry_policy=DEFAULT_RETRY_POLICY_PATH,
        stats_per_pool=False,
        transparent_mode=False,
        kind=None,
        growth="auto",
        max_age=None,
        max_idle=None,
        max_uses=None,
        max_concurrency=None,
        error_decay=0.0,
        blocked_status_codes=frozenset({401, 403}),
        rate_limit_status_codes=frozenset({429, 503}),
        profiles=(),
        seeds={},
        log_interval=None,
        pool_idle_timeout=600.0,
        state_file=None,
        save_interval=60.0,
    )
    assert settings.max_wait == 60.0


def test_session_delay_defaults_to_download_delay():
    assert read(DOWNLOAD_DELAY=2.5).delay == 2.5
    assert read(DOWNLOAD_DELAY=2.5, ZYTE_API_SESSION_DELAY=1).delay == 1.0


def test_randomization_follows_download_delay_jitter():
    assert read(DOWNLOAD_DELAY_JITTER=0).randomize_delay is False
    assert read(DOWNLOAD_DELAY_JITTER=0.2).jitter == 0.2
    assert read(RANDOMIZE_DOWNLOAD_DELAY=False).randomize_delay is False
    assert read(ZYTE_API_SESSION_RANDOMIZE_DELAY=False).randomize_delay is False


def test_values_from_the_command_line_are_parsed():
    settings = read(
        ZYTE_API_SESSION_ENABLED="True",
        ZYTE_API_SESSION_POOL_SIZE="3",
        ZYTE_API_SESSION_DELAY="0.5",
        ZYTE_API_SESSION_POOLS='{"example.com": {"size": 2}}',
    )
    assert settings.enabled is True
    assert settings.pool_size == 3
    assert settings.delay == 0.5
    # A size set by the user: the pool is filled eagerly, as scrapy-zyte-api does.
    assert settings.pools == {
        "example.com": PoolOptions(
            size=2, delay=0.5, randomize_delay=True, growth="eager"
        )
    }


def test_pools_entries_inherit_missing_options_from_global_settings():
    settings = read(
        ZYTE_API_SESSION_POOL_SIZE=4,
        ZYTE_API_SESSION_DELAY=1.5,
        ZYTE_API_SESSION_POOLS={"a": {"delay": 3}},
    )
    assert settings.pools == {
        "a": PoolOptions(size=4, delay=3.0, randomize_delay=True, growth="eager")
    }


@pytest.mark.parametrize(
    ("settings", "growth"),
    [
        pytest.param({}, "auto", id="default-size-grows-on-demand"),
        pytest.param(
            {"ZYTE_API_SESSION_POOL_SIZE": 8}, "eager", id="size-set-grows-eagerly"
        ),
        pytest.param(
            {
                "ZYTE_API_SESSION_POOL_SIZE": 8,
                "ZYTE_API_SESSION_POOL_GROWTH": "on-demand",
            },
            "on-demand",
            id="growth-set-wins",
        ),
    ],
)
def test_auto_growth_is_eager_only_for_a_size_the_user_set(settings, growth):
    assert read(**settings).default_pool_options.growth == growth


def test_deprecated_pool_sizes_are_merged_and_pools_wins():
    with pytest.warns(ScrapyDeprecationWarning, match="ZYTE_API_SESSION_POOLS"):
        settings = read(
            ZYTE_API_SESSION_POOL_SIZES={"a": 2, "b": 3},
            ZYTE_API_SESSION_POOLS={"b": {"size": 5}},
        )
    assert {k: v.size for k, v in settings.pools.items()} == {"a": 2, "b": 5}


def test_every_bad_setting_is_reported_at_once():
    with pytest.raises(InvalidSettings) as info:
        read(
            ZYTE_API_SESSION_ENABLED="maybe",
            ZYTE_API_SESSION_POOL_SIZE=0,
            ZYTE_API_SESSION_DELAY=-1,
            ZYTE_API_SESSION_MAX_ERRORS="many",
            ZYTE_API_SESSION_LOCATION="10001",
            ZYTE_API_SESSION_POOLS={"a": {"size": 1, "sise": 2}, "b": 3},
            ZYTE_API_SESSION_MAX_BAD_INITS_PER_POOL={"a": -1},
            ZYTE_API_SESSION_CHECKER="no.such.Checker",
            ZYTE_API_SESSION_QUEUE_WAIT_TIME=[1],
        )
    assert info.value.problems == [
        "ZYTE_API_SESSION_DELAY: expected a number >= 0, got -1 (int)",
        "ZYTE_API_SESSION_POOL_SIZE: expected an integer >= 1, got 0 (int)",
        (
            "ZYTE_API_SESSION_LOCATION: expected a dict (or its JSON string), "
            "got '10001' (str)"
        ),
        (
            "ZYTE_API_SESSION_ENABLED: expected a boolean (True/False, 1/0), "
            "got 'maybe' (str)"
        ),
        (
            "ZYTE_API_SESSION_POOLS['b']: expected a dict of pool options "
            "(see ZYTE_API_SESSION_POOLS), got 3 (int)"
        ),
        (
            "ZYTE_API_SESSION_POOLS['a']: unknown key 'sise' (expected some of "
            "size, delay, randomize_delay, max_age, max_idle, max_uses, "
            "max_concurrency, error_decay, kind, growth)"
        ),
        (
            "ZYTE_API_SESSION_CHECKER: expected a class or its import path, "
            "got 'no.such.Checker' (str)"
        ),
        "ZYTE_API_SESSION_MAX_ERRORS: expected an integer >= 0, got 'many' (str)",
        (
            "ZYTE_API_SESSION_MAX_BAD_INITS_PER_POOL['a']: expected an integer >= 0, "
            "got -1 (int)"
        ),
        "ZYTE_API_SESSION_QUEUE_WAIT_TIME: expected a number >= 0, got [1] (list)",
    ]


def test_location_must_map_address_fields_to_strings():
    with pytest.raises(InvalidSettings, match="ZYTE_API_SESSION_LOCATION"):
        read(ZYTE_API_SESSION_LOCATION={"postalCode": 10001})


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        pytest.param(None, DEFAULT_RETRY_POLICY_PATH, id="default"),
        pytest.param(
            "zyte_api.aggressive_retrying",
            AGGRESSIVE_RETRY_POLICY_PATH,
            id="aggressive",
        ),
        pytest.param(
            "scrapy_zyte_api.SESSION_DEFAULT_RETRY_POLICY",
            "scrapy_zyte_api.SESSION_DEFAULT_RETRY_POLICY",
            id="session-safe",
        ),
    ],
)
def test_session_retry_policy_is_derived_from_the_zyte_api_policy(
    policy, expected, caplog
):
    values = {} if policy is None else {"ZYTE_API_RETRY_POLICY": policy}
    assert read(**values).retry_policy == expected
    assert "custom value" not in caplog.text


def test_custom_zyte_api_retry_policy_is_used_with_a_warning(caplog):
    settings = read(ZYTE_API_RETRY_POLICY="tests.test_settings.CUSTOM_POLICY")
    assert settings.retry_policy == "tests.test_settings.CUSTOM_POLICY"
    assert "ZYTE_API_RETRY_POLICY is set to a custom value" in caplog.text


def test_explicit_session_retry_policy_wins_without_warning(caplog):
    settings = read(
        ZYTE_API_RETRY_POLICY="tests.test_settings.CUSTOM_POLICY",
        ZYTE_API_SESSION_RETRY_POLICY="tests.test_settings.CUSTOM_POLICY",
    )
    assert settings.retry_policy == "tests.test_settings.CUSTOM_POLICY"
    assert caplog.text == ""


CUSTOM_POLICY = object()


@deferred_f_from_coro_f
async def test_bad_settings_fail_the_crawl_at_start_up(zyte_api):
    with pytest.raises(InvalidSettings, match="ZYTE_API_SESSION_POOL_SIZE"):
        await run_crawl(
            zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=-2),
            spider_for("https://example.com/"),
        )
    assert zyte_api.state()["requests"] == 0


def test_session_safe_policy_objects_are_kept_without_warning(caplog):
    from scrapy_session_pools import SESSION_DEFAULT_RETRY_POLICY

    settings = read(ZYTE_API_RETRY_POLICY=SESSION_DEFAULT_RETRY_POLICY)
    assert settings.retry_policy is SESSION_DEFAULT_RETRY_POLICY
    assert caplog.text == ""


def test_explicit_randomize_download_delay_wins_over_default_jitter():
    settings = Settings()
    settings.set("DOWNLOAD_DELAY_JITTER", 0, priority="default")
    settings.set("RANDOMIZE_DOWNLOAD_DELAY", True, priority="project")
    result = PoolsSettings.from_settings(settings)
    assert (result.randomize_delay, result.jitter) == (True, 0.5)


def test_profiles_and_seeds_are_validated_and_accept_json():
    settings = read(
        ZYTE_API_SESSION_PROFILES='[{"proxy": "http://u:p@127.0.0.1:1"}, {}]',
        ZYTE_API_SESSION_SEEDS='{"a": [{"cookies": []}]}',
    )
    assert [p.name for p in settings.profiles] == ["profile-0", "profile-1"]
    assert list(settings.seeds) == ["a"]
    with pytest.raises(InvalidSettings) as info:
        read(
            ZYTE_API_SESSION_PROFILES=[
                {"name": "x", "proxy": "socks5://h:1"},
                {"name": "x", "header": {}},
            ],
            ZYTE_API_SESSION_SEEDS={"a": [{"cookies": [{"name": "sid"}]}]},
            ZYTE_API_SESSION_BLOCKED_STATUS_CODES=[403, 999],
            ZYTE_API_SESSION_MAX_AGE=0,
            ZYTE_API_SESSION_KIND="browser",
        )
    assert info.value.problems == [
        "ZYTE_API_SESSION_KIND: expected 'zyte_api' or 'http', got 'browser' (str)",
        "ZYTE_API_SESSION_MAX_AGE: expected a number > 0 (or None), got 0 (int)",
        (
            "ZYTE_API_SESSION_BLOCKED_STATUS_CODES: expected a list of HTTP status "
            "codes, got [403, 999] (list)"
        ),
        (
            "ZYTE_API_SESSION_PROFILES: [0]: proxy: expected an http(s):// URL, got "
            "'socks5://h:1'; [1]: unknown key(s) 'header' (expected some of name, "
            "proxy, headers)"
        ),
        (
            "ZYTE_API_SESSION_SEEDS: ['a'][0]: cookies: expected a list of dicts with "
            "name, value and domain"
        ),
    ]


@pytest.mark.parametrize(
    "name",
    [
        "ZYTE_API_SESSION_MAX_ERRORS",
        "ZYTE_API_SESSION_MAX_CHECK_FAILURES",
        "ZYTE_API_SESSION_MAX_BAD_INITS",
    ],
)
def test_a_maximum_of_zero_works_as_one_with_a_warning(name, caplog):
    settings = read(**{name: 0})
    assert getattr(settings, name.removeprefix("ZYTE_API_SESSION_").lower()) == 0
    assert f"{name} is 0, which works as 1 (as in scrapy-zyte-api)" in caplog.text
