"""Every bad setting fails at start-up with one InvalidSettings naming it.

tests/test_settings.py covers the reporting of several bad settings at
once; this matrix covers each bad value on its own, with its exact message.
"""

from __future__ import annotations

from typing import Any

import pytest
from scrapy.settings import Settings
from scrapy.utils.defer import deferred_f_from_coro_f

from scrapy_session_pools import InvalidSettings
from scrapy_session_pools.settings import PoolsSettings

from .checkers import FailUsesAfterFirstChecker
from .helpers import http_settings, run_crawl, spider_for, zyte_api_settings

INF = float("inf")
NAN = float("nan")


class CheckerWithoutCheck:
    """A class that ZYTE_API_SESSION_CHECKER cannot use: it has no check()."""

    def verify(self, response: Any, request: Any) -> bool:
        return True


def check(response: Any, request: Any) -> bool:
    """A function named check: not a checker class."""
    return True


def read(**values: Any) -> PoolsSettings:
    return PoolsSettings.from_settings(Settings(values))


def problems_of(**values: Any) -> list[str]:
    with pytest.raises(InvalidSettings) as info:
        read(**values)
    return info.value.problems


BOOLEAN = "expected a boolean (True/False, 1/0)"

BAD_SETTINGS = [
    # Booleans: what Settings.getbool documents, not any number.
    pytest.param(
        {"ZYTE_API_SESSION_ENABLED": [1]},
        f"ZYTE_API_SESSION_ENABLED: {BOOLEAN}, got [1] (list)",
        id="enabled-list",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_ENABLED": 2},
        f"ZYTE_API_SESSION_ENABLED: {BOOLEAN}, got 2 (int)",
        id="enabled-2",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_ENABLED": "2"},
        f"ZYTE_API_SESSION_ENABLED: {BOOLEAN}, got '2' (str)",
        id="enabled-2-string",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_ENABLED": 1.0},
        f"ZYTE_API_SESSION_ENABLED: {BOOLEAN}, got 1.0 (float)",
        id="enabled-float",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_STATS_PER_POOL": {"a": 1}},
        f"ZYTE_API_SESSION_STATS_PER_POOL: {BOOLEAN}, got {{'a': 1}} (dict)",
        id="stats-per-pool-dict",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_COOKIE_MODE": "TRUE"},
        f"ZYTE_API_SESSION_COOKIE_MODE: {BOOLEAN}, got 'TRUE' (str)",
        id="cookie-mode-uppercase",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_INIT_ACTION_FAILURE_INVALIDATES_SESSION": -1},
        (
            "ZYTE_API_SESSION_INIT_ACTION_FAILURE_INVALIDATES_SESSION: "
            f"{BOOLEAN}, got -1 (int)"
        ),
        id="init-action-failure-negative",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_RANDOMIZE_DELAY": 0.5},
        f"ZYTE_API_SESSION_RANDOMIZE_DELAY: {BOOLEAN}, got 0.5 (float)",
        id="randomize-delay-jitter-value",
    ),
    pytest.param(
        {"RANDOMIZE_DOWNLOAD_DELAY": "yes"},
        f"RANDOMIZE_DOWNLOAD_DELAY: {BOOLEAN}, got 'yes' (str)",
        id="randomize-download-delay-yes",
    ),
    pytest.param(
        {"ZYTE_API_TRANSPARENT_MODE": "on"},
        f"ZYTE_API_TRANSPARENT_MODE: {BOOLEAN}, got 'on' (str)",
        id="transparent-mode-on",
    ),
    pytest.param(
        {"ZYTE_API_ENABLED": 2},
        f"ZYTE_API_ENABLED: {BOOLEAN}, got 2 (int)",
        id="zyte-api-enabled-2",
    ),
    # Numbers: finite, in range.
    pytest.param(
        {"ZYTE_API_SESSION_DELAY": INF},
        "ZYTE_API_SESSION_DELAY: expected a finite number >= 0, got inf (float)",
        id="delay-inf",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_DELAY": "inf"},
        "ZYTE_API_SESSION_DELAY: expected a finite number >= 0, got 'inf' (str)",
        id="delay-inf-string",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_DELAY": -INF},
        "ZYTE_API_SESSION_DELAY: expected a finite number >= 0, got -inf (float)",
        id="delay-minus-inf",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_DELAY": NAN},
        "ZYTE_API_SESSION_DELAY: expected a finite number >= 0, got nan (float)",
        id="delay-nan",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_DELAY": "nan"},
        "ZYTE_API_SESSION_DELAY: expected a finite number >= 0, got 'nan' (str)",
        id="delay-nan-string",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_DELAY": True},
        "ZYTE_API_SESSION_DELAY: expected a number >= 0, got True (bool)",
        id="delay-bool",
    ),
    pytest.param(
        {"DOWNLOAD_DELAY": INF},
        "DOWNLOAD_DELAY: expected a finite number >= 0, got inf (float)",
        id="download-delay-inf",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_QUEUE_WAIT_TIME": NAN},
        (
            "ZYTE_API_SESSION_QUEUE_WAIT_TIME: expected a finite number >= 0, "
            "got nan (float)"
        ),
        id="queue-wait-time-nan",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_CREATION_RETRY_DELAY": INF},
        (
            "ZYTE_API_SESSION_CREATION_RETRY_DELAY: expected a finite number "
            ">= 0, got inf (float)"
        ),
        id="creation-retry-delay-inf",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_CREATION_RETRY_DELAY": "soon"},
        (
            "ZYTE_API_SESSION_CREATION_RETRY_DELAY: expected a number >= 0, "
            "got 'soon' (str)"
        ),
        id="creation-retry-delay-word",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_ERROR_DECAY": NAN},
        (
            "ZYTE_API_SESSION_ERROR_DECAY: expected a finite number >= 0, "
            "got nan (float)"
        ),
        id="error-decay-nan",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_ERROR_DECAY": -0.5},
        "ZYTE_API_SESSION_ERROR_DECAY: expected a number >= 0, got -0.5 (float)",
        id="error-decay-negative",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_POOL_IDLE_TIMEOUT": NAN},
        (
            "ZYTE_API_SESSION_POOL_IDLE_TIMEOUT: expected a finite number >= 0, "
            "got nan (float)"
        ),
        id="pool-idle-timeout-nan",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_POOL_IDLE_TIMEOUT": INF},
        (
            "ZYTE_API_SESSION_POOL_IDLE_TIMEOUT: expected a finite number >= 0, "
            "got inf (float)"
        ),
        id="pool-idle-timeout-inf",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_SAVE_INTERVAL": NAN},
        (
            "ZYTE_API_SESSION_SAVE_INTERVAL: expected a finite number >= 0, "
            "got nan (float)"
        ),
        id="save-interval-nan",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_SAVE_INTERVAL": -60},
        "ZYTE_API_SESSION_SAVE_INTERVAL: expected a number >= 0, got -60 (int)",
        id="save-interval-negative",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_PARK_AFTER": NAN},
        ("ZYTE_API_SESSION_PARK_AFTER: expected a finite number >= 0, got nan (float)"),
        id="park-after-nan",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_PARK_AFTER": -1},
        "ZYTE_API_SESSION_PARK_AFTER: expected a number >= 0, got -1 (int)",
        id="park-after-negative",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_LEARN_LIMITS": [1]},
        f"ZYTE_API_SESSION_LEARN_LIMITS: {BOOLEAN}, got [1] (list)",
        id="learn-limits-list",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_PARKING": "off"},
        f"ZYTE_API_SESSION_PARKING: {BOOLEAN}, got 'off' (str)",
        id="parking-off-string",
    ),
    pytest.param(
        {"DOWNLOAD_DELAY_JITTER": INF},
        "DOWNLOAD_DELAY_JITTER: expected a finite number >= 0, got inf (float)",
        id="jitter-inf",
    ),
    pytest.param(
        {"DOWNLOAD_DELAY_JITTER": -0.1},
        "DOWNLOAD_DELAY_JITTER: expected a number >= 0, got -0.1 (float)",
        id="jitter-negative",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_MAX_AGE": INF},
        (
            "ZYTE_API_SESSION_MAX_AGE: expected a finite number > 0 (or None), "
            "got inf (float)"
        ),
        id="max-age-inf",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_MAX_IDLE": NAN},
        (
            "ZYTE_API_SESSION_MAX_IDLE: expected a finite number > 0 (or None), "
            "got nan (float)"
        ),
        id="max-idle-nan",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_MAX_IDLE": -1},
        "ZYTE_API_SESSION_MAX_IDLE: expected a number > 0 (or None), got -1 (int)",
        id="max-idle-negative",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_LOG_INTERVAL": "inf"},
        (
            "ZYTE_API_SESSION_LOG_INTERVAL: expected a finite number > 0 "
            "(or None), got 'inf' (str)"
        ),
        id="log-interval-inf-string",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_LOG_INTERVAL": 0},
        "ZYTE_API_SESSION_LOG_INTERVAL: expected a number > 0 (or None), got 0 (int)",
        id="log-interval-zero",
    ),
    # Integers.
    pytest.param(
        {"ZYTE_API_SESSION_POOL_SIZE": "inf"},
        "ZYTE_API_SESSION_POOL_SIZE: expected an integer >= 1, got 'inf' (str)",
        id="pool-size-inf-string",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_POOL_SIZE": 2.5},
        "ZYTE_API_SESSION_POOL_SIZE: expected an integer >= 1, got 2.5 (float)",
        id="pool-size-fraction",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_MAX_USES": INF},
        "ZYTE_API_SESSION_MAX_USES: expected an integer >= 1 (or None), got inf (float)",
        id="max-uses-inf",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_MAX_CONCURRENCY": 0},
        (
            "ZYTE_API_SESSION_MAX_CONCURRENCY: expected an integer >= 1 (or None), "
            "got 0 (int)"
        ),
        id="max-concurrency-zero",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_QUEUE_MAX_ATTEMPTS": 0},
        "ZYTE_API_SESSION_QUEUE_MAX_ATTEMPTS: expected an integer >= 1, got 0 (int)",
        id="queue-max-attempts-zero",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_QUEUE_MAX_ATTEMPTS": NAN},
        "ZYTE_API_SESSION_QUEUE_MAX_ATTEMPTS: expected an integer >= 1, got nan (float)",
        id="queue-max-attempts-nan",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_MAX_BAD_INITS": 1.5},
        "ZYTE_API_SESSION_MAX_BAD_INITS: expected an integer >= 0, got 1.5 (float)",
        id="max-bad-inits-fraction",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_MAX_CHECK_FAILURES": True},
        (
            "ZYTE_API_SESSION_MAX_CHECK_FAILURES: expected an integer >= 0, "
            "got True (bool)"
        ),
        id="max-check-failures-bool",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_MAX_BAD_INITS_PER_POOL": {"a": NAN}},
        (
            "ZYTE_API_SESSION_MAX_BAD_INITS_PER_POOL['a']: expected an integer "
            ">= 0, got nan (float)"
        ),
        id="max-bad-inits-per-pool-nan",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_POOL_SIZES": {"a": 0}},
        "ZYTE_API_SESSION_POOL_SIZES['a']: expected an integer >= 1, got 0 (int)",
        id="deprecated-pool-sizes-zero",
    ),
    # Choices.
    pytest.param(
        {"ZYTE_API_SESSION_POOL_GROWTH": ""},
        (
            "ZYTE_API_SESSION_POOL_GROWTH: expected 'auto', 'eager' or "
            "'on-demand', got '' (str)"
        ),
        id="pool-growth-empty",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_POOL_GROWTH": "lazy"},
        (
            "ZYTE_API_SESSION_POOL_GROWTH: expected 'auto', 'eager' or "
            "'on-demand', got 'lazy' (str)"
        ),
        id="pool-growth-unknown",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_KIND": ""},
        "ZYTE_API_SESSION_KIND: expected 'zyte_api' or 'http', got '' (str)",
        id="kind-empty",
    ),
    # Dicts.
    pytest.param(
        {"ZYTE_API_SESSION_LOCATION": ["US"]},
        "ZYTE_API_SESSION_LOCATION: expected a dict (or its JSON string), "
        "got ['US'] (list)",
        id="location-list",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_LOCATION": '["US"]'},
        "ZYTE_API_SESSION_LOCATION: expected a dict (or its JSON string), "
        "got '[\"US\"]' (str)",
        id="location-json-list",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_LOCATION": {"country": "US"}},
        (
            "ZYTE_API_SESSION_LOCATION: expected a dict of address fields "
            "(addressCountry, addressRegion, postalCode, streetAddress) with "
            "string values, got {'country': 'US'} (dict)"
        ),
        id="location-unknown-field",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_LOCATION": {"addressCountry": "US", "addressLocality": "X"}},
        (
            "ZYTE_API_SESSION_LOCATION: expected a dict of address fields "
            "(addressCountry, addressRegion, postalCode, streetAddress) with "
            "string values, got {'addressCountry': 'US', 'addressLocality': 'X'} "
            "(dict)"
        ),
        id="location-locality",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_LOCATION": {"addressCountry": ["US"]}},
        (
            "ZYTE_API_SESSION_LOCATION: expected a dict of address fields "
            "(addressCountry, addressRegion, postalCode, streetAddress) with "
            "string values, got {'addressCountry': ['US']} (dict)"
        ),
        id="location-list-value",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_PARAMS": {"url": 5}},
        "ZYTE_API_SESSION_PARAMS['url']: expected an absolute http(s):// URL, "
        "got 5 (int)",
        id="params-url-number",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_PARAMS": {"url": "/login"}},
        "ZYTE_API_SESSION_PARAMS['url']: expected an absolute http(s):// URL, "
        "got '/login' (str)",
        id="params-url-relative",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_PARAMS": {"url": "https://"}},
        "ZYTE_API_SESSION_PARAMS['url']: expected an absolute http(s):// URL, "
        "got 'https://' (str)",
        id="params-url-no-host",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_PARAMS": "browserHtml"},
        "ZYTE_API_SESSION_PARAMS: expected a dict (or its JSON string), "
        "got 'browserHtml' (str)",
        id="params-word",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_POOLS": ["example.com"]},
        "ZYTE_API_SESSION_POOLS: expected a dict (or its JSON string), "
        "got ['example.com'] (list)",
        id="pools-list",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_MAX_BAD_INITS_PER_POOL": "{a: 1}"},
        "ZYTE_API_SESSION_MAX_BAD_INITS_PER_POOL: expected a dict (or its JSON "
        "string), got '{a: 1}' (str)",
        id="max-bad-inits-per-pool-bad-json",
    ),
    # Components and policies.
    pytest.param(
        {"ZYTE_API_SESSION_CHECKER": "tests.test_bad_settings.CheckerWithoutCheck"},
        (
            "ZYTE_API_SESSION_CHECKER: expected a class with a check() method, or "
            "its import path, got 'tests.test_bad_settings.CheckerWithoutCheck' "
            "(str)"
        ),
        id="checker-without-check",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_CHECKER": "tests.test_bad_settings.check"},
        (
            "ZYTE_API_SESSION_CHECKER: expected a class with a check() method, or "
            "its import path, got 'tests.test_bad_settings.check' (str)"
        ),
        id="checker-function",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_CHECKER": 5},
        "ZYTE_API_SESSION_CHECKER: expected a class or its import path, got 5 (int)",
        id="checker-number",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_RETRY_POLICY": "no_such_module.POLICY"},
        (
            "ZYTE_API_SESSION_RETRY_POLICY: expected a retry policy or its import "
            "path, got 'no_such_module.POLICY' (str)"
        ),
        id="session-retry-policy-missing-module",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_RETRY_POLICY": "scrapy_session_pools.NO_SUCH_POLICY"},
        (
            "ZYTE_API_SESSION_RETRY_POLICY: expected a retry policy or its import "
            "path, got 'scrapy_session_pools.NO_SUCH_POLICY' (str)"
        ),
        id="session-retry-policy-missing-name",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_RETRY_POLICY": 3},
        (
            "ZYTE_API_SESSION_RETRY_POLICY: expected a retry policy or its import "
            "path, got 3 (int)"
        ),
        id="session-retry-policy-number",
    ),
    pytest.param(
        {"ZYTE_API_RETRY_POLICY": "no_such_module.POLICY"},
        (
            "ZYTE_API_RETRY_POLICY: expected a retry policy or its import path, "
            "got 'no_such_module.POLICY' (str)"
        ),
        id="zyte-api-retry-policy-missing-module",
    ),
    pytest.param(
        {"RETRY_EXCEPTIONS": ["no_such_module.Error"]},
        (
            "RETRY_EXCEPTIONS: expected exception classes or their import paths, "
            "got 'no_such_module.Error' (str)"
        ),
        id="retry-exceptions-missing-module",
    ),
    # Status codes.
    pytest.param(
        {"ZYTE_API_SESSION_RATE_LIMIT_STATUS_CODES": "429,soon"},
        (
            "ZYTE_API_SESSION_RATE_LIMIT_STATUS_CODES: expected a list of HTTP "
            "status codes, got '429,soon' (str)"
        ),
        id="rate-limit-status-codes-word",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_BLOCKED_STATUS_CODES": {403: True}},
        (
            "ZYTE_API_SESSION_BLOCKED_STATUS_CODES: expected a list of HTTP status "
            "codes, got {403: True} (dict)"
        ),
        id="blocked-status-codes-dict",
    ),
    # Files.
    pytest.param(
        {"ZYTE_API_SESSION_STATE_FILE": 5},
        "ZYTE_API_SESSION_STATE_FILE: expected a file path, got 5 (int)",
        id="state-file-number",
    ),
    # Profiles and seeds: proxies checked, passwords masked.
    pytest.param(
        {"ZYTE_API_SESSION_PROFILES": [{"proxy": "http://127.0.0.1:notaport"}]},
        (
            "ZYTE_API_SESSION_PROFILES: [0]: proxy: expected an http(s):// URL "
            "with a port from 1 to 65535, got 'http://127.0.0.1:notaport'"
        ),
        id="profile-proxy-bad-port",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_PROFILES": [{"proxy": "http://u:secret@h:99999"}]},
        (
            "ZYTE_API_SESSION_PROFILES: [0]: proxy: expected an http(s):// URL "
            "with a port from 1 to 65535, got 'http://***@h:99999'"
        ),
        id="profile-proxy-port-out-of-range",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_PROFILES": [{"proxy": "http://"}]},
        (
            "ZYTE_API_SESSION_PROFILES: [0]: proxy: expected an http(s):// URL "
            "with a host, got 'http://'"
        ),
        id="profile-proxy-no-host",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_PROFILES": [{"proxy": "u:secret@proxy.example:8011"}]},
        (
            "ZYTE_API_SESSION_PROFILES: [0]: proxy: expected an http(s):// URL, "
            "got '***@proxy.example:8011'"
        ),
        id="profile-proxy-no-scheme",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_PROFILES": {"proxy": "http://u:secret@h:1"}},
        (
            "ZYTE_API_SESSION_PROFILES: expected a list of profile dicts, "
            "got {'proxy': 'http://***@h:1'} (dict)"
        ),
        id="profiles-one-dict",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_PROFILES": ["http://u:secret@h:1"]},
        (
            "ZYTE_API_SESSION_PROFILES: [0]: expected a dict (for a proxy URL: "
            "{'proxy': '<URL>'}), got 'http://***@h:1' (str)"
        ),
        id="profiles-url-strings",
    ),
    pytest.param(
        {
            "ZYTE_API_SESSION_PROFILES": [
                {"headers": {"Proxy-Authorization": "Basic c2VjcmV0", "X-N": 1}}
            ]
        },
        (
            "ZYTE_API_SESSION_PROFILES: [0]: headers: expected a dict of strings, "
            "got {'Proxy-Authorization': '***', 'X-N': 1} (dict)"
        ),
        id="profile-header-not-a-string",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_PROFILES": [{"name": ""}]},
        "ZYTE_API_SESSION_PROFILES: [0]: name: expected a non-empty string, "
        "got '' (str)",
        id="profile-empty-name",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_SEEDS": {"a": {"proxy": "http://u:secret@h:1"}}},
        (
            "ZYTE_API_SESSION_SEEDS: ['a']: expected a list of seeds, "
            "got {'proxy': 'http://***@h:1'} (dict)"
        ),
        id="seeds-not-a-list",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_SEEDS": {"a": ["http://u:secret@h:1"]}},
        (
            "ZYTE_API_SESSION_SEEDS: ['a'][0]: expected a dict, "
            "got 'http://***@h:1' (str)"
        ),
        id="seed-url-string",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_SEEDS": {"a": [{"proxy": "http://u:secret@h:x"}]}},
        (
            "ZYTE_API_SESSION_SEEDS: ['a'][0]: proxy: expected an http(s):// URL "
            "with a port from 1 to 65535, got 'http://***@h:x'"
        ),
        id="seed-proxy-bad-port",
    ),
    pytest.param(
        {"ZYTE_API_SESSION_SEEDS": ["http://u:secret@h:1"]},
        (
            "ZYTE_API_SESSION_SEEDS: expected a dict of pool IDs to lists of seeds, "
            "got ['http://***@h:1'] (list)"
        ),
        id="seeds-list",
    ),
]


@pytest.mark.parametrize(("values", "expected"), BAD_SETTINGS)
def test_bad_setting_is_named_with_the_expected_form_and_the_value(values, expected):
    assert problems_of(**values) == [expected]


def test_proxy_passwords_never_appear_in_the_message():
    with pytest.raises(InvalidSettings) as info:
        read(
            ZYTE_API_SESSION_PROFILES=[
                "http://user:secret@proxy.example:8011",
                {"proxy": "http://user:secret@proxy.example:port"},
            ],
            ZYTE_API_SESSION_SEEDS={"a": [5, {"proxy": "socks5://user:secret@h:1"}]},
        )
    assert "secret" not in str(info.value)
    assert info.value.problems == [
        (
            "ZYTE_API_SESSION_PROFILES: [0]: expected a dict (for a proxy URL: "
            "{'proxy': '<URL>'}), got 'http://***@proxy.example:8011' (str); "
            "[1]: proxy: expected an http(s):// URL with a port from 1 to 65535, "
            "got 'http://***@proxy.example:port'"
        ),
        (
            "ZYTE_API_SESSION_SEEDS: ['a'][0]: expected a dict, got 5 (int); "
            "['a'][1]: proxy: expected an http(s):// URL, got 'socks5://***@h:1'"
        ),
    ]


def test_a_bad_download_delay_is_not_reported_when_the_session_delay_is_set():
    # DOWNLOAD_DELAY is only the default of ZYTE_API_SESSION_DELAY.
    settings = read(DOWNLOAD_DELAY=NAN, ZYTE_API_SESSION_DELAY=2)
    assert settings.delay == 2.0


def test_a_bad_jitter_is_reported_once():
    assert problems_of(DOWNLOAD_DELAY_JITTER="wide") == [
        "DOWNLOAD_DELAY_JITTER: expected a number >= 0, got 'wide' (str)"
    ]


GOOD_SETTINGS = [
    pytest.param("ZYTE_API_SESSION_ENABLED", "enabled", True, True, id="enabled-true"),
    pytest.param("ZYTE_API_SESSION_ENABLED", "enabled", 1, True, id="enabled-1"),
    pytest.param("ZYTE_API_SESSION_ENABLED", "enabled", 0, False, id="enabled-0"),
    pytest.param(
        "ZYTE_API_SESSION_ENABLED", "enabled", "True", True, id="enabled-True"
    ),
    pytest.param(
        "ZYTE_API_SESSION_ENABLED", "enabled", "true", True, id="enabled-true-str"
    ),
    pytest.param("ZYTE_API_SESSION_ENABLED", "enabled", "1", True, id="enabled-1-str"),
    pytest.param(
        "ZYTE_API_SESSION_ENABLED", "enabled", "False", False, id="enabled-False"
    ),
    pytest.param(
        "ZYTE_API_SESSION_ENABLED", "enabled", "false", False, id="enabled-false"
    ),
    pytest.param("ZYTE_API_SESSION_ENABLED", "enabled", "0", False, id="enabled-0-str"),
    pytest.param("ZYTE_API_SESSION_DELAY", "delay", "1.5", 1.5, id="delay-string"),
    pytest.param("ZYTE_API_SESSION_DELAY", "delay", 0, 0.0, id="delay-zero"),
    pytest.param(
        "ZYTE_API_SESSION_LOCATION",
        "location",
        '{"addressCountry": "US", "addressRegion": "NY", "postalCode": "10001", '
        '"streetAddress": "3 Penn Plz"}',
        {
            "addressCountry": "US",
            "addressRegion": "NY",
            "postalCode": "10001",
            "streetAddress": "3 Penn Plz",
        },
        id="location-json-all-fields",
    ),
    pytest.param(
        "ZYTE_API_SESSION_LOCATION",
        "location",
        [("postalCode", "10001")],
        {"postalCode": "10001"},
        id="location-pairs",
    ),
    pytest.param(
        "ZYTE_API_SESSION_PARAMS",
        "params",
        {"url": "https://example.com/init", "browserHtml": True},
        {"url": "https://example.com/init", "browserHtml": True},
        id="params-url",
    ),
    pytest.param("ZYTE_API_SESSION_CHECKER", "checker", "", None, id="checker-empty"),
    pytest.param(
        "ZYTE_API_SESSION_CHECKER",
        "checker",
        "tests.checkers.FailUsesAfterFirstChecker",
        FailUsesAfterFirstChecker,
        id="checker-path",
    ),
    pytest.param(
        "ZYTE_API_SESSION_RETRY_POLICY",
        "retry_policy",
        "scrapy_zyte_api.SESSION_AGGRESSIVE_RETRY_POLICY",
        "scrapy_zyte_api.SESSION_AGGRESSIVE_RETRY_POLICY",
        id="retry-policy-path",
    ),
    pytest.param(
        "ZYTE_API_SESSION_RETRY_POLICY", "retry_policy", "", "", id="retry-policy-empty"
    ),
    pytest.param(
        "ZYTE_API_SESSION_POOL_GROWTH", "growth", None, "auto", id="growth-none"
    ),
    pytest.param(
        "ZYTE_API_SESSION_POOL_IDLE_TIMEOUT",
        "pool_idle_timeout",
        0,
        None,
        id="idle-timeout-0",
    ),
    pytest.param(
        "ZYTE_API_SESSION_SAVE_INTERVAL", "save_interval", 0, 0.0, id="save-interval-0"
    ),
]


@pytest.mark.parametrize(("name", "field", "value", "expected"), GOOD_SETTINGS)
def test_values_that_scrapy_zyte_api_accepts_stay_accepted(
    name, field, value, expected
):
    assert getattr(read(**{name: value}), field) == expected


def test_an_empty_zyte_api_retry_policy_means_the_default_one():
    # scrapy-zyte-api's handler takes a falsy ZYTE_API_RETRY_POLICY as
    # python-zyte-api's default policy.
    settings = read(ZYTE_API_RETRY_POLICY="")
    assert settings.retry_policy == "scrapy_session_pools.SESSION_DEFAULT_RETRY_POLICY"


@deferred_f_from_coro_f
async def test_an_infinite_delay_fails_a_zyte_api_crawl_at_start_up(zyte_api):
    with pytest.raises(InvalidSettings) as info:
        await run_crawl(
            zyte_api_settings(zyte_api, ZYTE_API_SESSION_DELAY=INF),
            spider_for("https://example.com/", requests=2),
        )
    assert info.value.problems == [
        "ZYTE_API_SESSION_DELAY: expected a finite number >= 0, got inf (float)"
    ]
    assert zyte_api.state()["requests"] == 0


@deferred_f_from_coro_f
async def test_an_infinite_delay_fails_an_http_crawl_at_start_up(site):
    with pytest.raises(InvalidSettings) as info:
        await run_crawl(
            http_settings(
                ZYTE_API_SESSION_DELAY=INF,
                ZYTE_API_SESSION_PARAMS={"url": site.url("/landing")},
            ),
            spider_for(site.url("/page/1"), requests=2),
        )
    assert info.value.problems == [
        "ZYTE_API_SESSION_DELAY: expected a finite number >= 0, got inf (float)"
    ]
    assert site.state()["requests"] == 0


@deferred_f_from_coro_f
async def test_an_infinite_download_delay_fails_an_http_crawl_at_start_up(site):
    with pytest.raises(InvalidSettings) as info:
        await run_crawl(
            http_settings(DOWNLOAD_DELAY=INF),
            spider_for(site.url("/page/1")),
        )
    assert info.value.problems == [
        "DOWNLOAD_DELAY: expected a finite number >= 0, got inf (float)"
    ]
    assert site.state()["requests"] == 0


@deferred_f_from_coro_f
async def test_a_crawl_names_every_bad_setting_with_passwords_masked(site):
    with pytest.raises(InvalidSettings) as info:
        await run_crawl(
            http_settings(
                ZYTE_API_SESSION_ENABLED=2,
                ZYTE_API_SESSION_QUEUE_WAIT_TIME=NAN,
                ZYTE_API_SESSION_PROFILES=["http://user:secret@127.0.0.1:1"],
            ),
            spider_for(site.url("/page/1")),
        )
    assert str(info.value) == (
        "scrapy-session-pools found 3 invalid setting(s):\n"
        f"  - ZYTE_API_SESSION_ENABLED: {BOOLEAN}, got 2 (int)\n"
        "  - ZYTE_API_SESSION_QUEUE_WAIT_TIME: expected a finite number >= 0, "
        "got nan (float)\n"
        "  - ZYTE_API_SESSION_PROFILES: [0]: expected a dict (for a proxy URL: "
        "{'proxy': '<URL>'}), got 'http://***@127.0.0.1:1' (str)"
    )
    assert site.state()["requests"] == 0
