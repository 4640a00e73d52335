"""A spider written for scrapy-zyte-api's sessions gets the same stats.

Each scenario runs twice against the same fake Zyte API: once with
scrapy-zyte-api's own session management, once with ours, and compares the
session stats, the close reason and the messages that log monitoring of
scrapy-zyte-api users looks for.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
import scrapy_zyte_api
from scrapy import Request
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy_zyte_api._session import (
    session_config_registry as their_session_config_registry,
)

import scrapy_session_pools

from .conftest import isolated_registry
from .helpers import (
    CLOSESPIDER_TIMEOUT,
    run_crawl,
    session_stats,
    spider_for,
    spider_of,
    spider_with,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from scrapy.http import Response

    from scrapy_session_pools.testing import FakeZyteAPI

ZYTE_API_PREFIX = "scrapy-zyte-api/sessions/"
FAST_RETRY_POLICY = "tests.fast_retries.FAST_RETRY_POLICY"


class SessionIDRemover:
    """A downloader middleware that removes the session ID from requests.

    Placed after the session middlewares (700), it removes the session ID
    that they wrote, before the request is sent, so that the response
    reaches them without one.
    """

    def process_request(self, request: Request) -> None:
        request.meta.pop("_zyte_api_cookie_session_id", None)
        for key in ("zyte_api", "zyte_api_automap", "zyte_api_provider"):
            params = request.meta.get(key)
            if isinstance(params, dict) and "session" in params:
                request.meta[key] = {k: v for k, v in params.items() if k != "session"}


@dataclass
class Scenario:
    """What a spider written for scrapy-zyte-api does, and how it is set up."""

    url: str
    settings: dict[str, Any]
    requests: int
    #: How many sessions we retire (our retired/* stats, which theirs lack).
    retired: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    #: "addon": scrapy-zyte-api's add-on (transparent mode); "handler": its
    #: download handler and middlewares set by hand (transparent mode off).
    setup: str = "addon"
    #: Messages that both must log (found in the raw record message).
    messages: tuple[str, ...] = ()
    #: Failed requests (errbacks), the same for both.
    failures: int = 0


SCENARIOS = [
    pytest.param(
        Scenario("https://example.com/", {"ZYTE_API_SESSION_POOL_SIZE": 2}, 5),
        id="plain",
    ),
    pytest.param(
        Scenario(
            "https://example.com/?ban_after=3",
            {"ZYTE_API_SESSION_POOL_SIZE": 1, "CONCURRENT_REQUESTS": 1},
            4,
            retired=1,
        ),
        id="download-errors",
    ),
    pytest.param(
        Scenario(
            "https://example.com/?expire_after=2",
            {"ZYTE_API_SESSION_POOL_SIZE": 1, "CONCURRENT_REQUESTS": 1},
            3,
            retired=2,
        ),
        id="expiry",
    ),
    pytest.param(
        Scenario(
            "https://example.com/",
            {
                "ZYTE_API_SESSION_POOL_SIZE": 1,
                "ZYTE_API_SESSION_LOCATION": {"postalCode": "10001"},
                "ZYTE_API_SESSION_STATS_PER_POOL": True,
            },
            2,
        ),
        id="location-per-pool",
    ),
    pytest.param(
        Scenario(
            "https://example.com/?set_location=fail",
            {
                "ZYTE_API_SESSION_POOL_SIZE": 1,
                "ZYTE_API_SESSION_MAX_BAD_INITS": 2,
                "ZYTE_API_SESSION_LOCATION": {"postalCode": "10001"},
            },
            1,
            failures=1,
        ),
        id="bad-inits",
    ),
    pytest.param(
        Scenario(
            "https://example.com/",
            {"ZYTE_API_SESSION_POOL_SIZE": 2},
            3,
            setup="handler",
        ),
        id="non-transparent-plain-requests",
    ),
    pytest.param(
        Scenario(
            "https://example.com/",
            {"ZYTE_API_SESSION_POOL_SIZE": 2},
            3,
            meta={"zyte_api": {"browserHtml": True}},
            setup="handler",
        ),
        id="non-transparent-zyte-api-meta",
    ),
    pytest.param(
        Scenario(
            "https://example.com/",
            {"ZYTE_API_SESSION_POOL_SIZE": 1},
            2,
            meta={"zyte_api_automap": False},
            setup="handler",
        ),
        id="non-transparent-automap-false",
    ),
    pytest.param(
        Scenario(
            "https://example.com/",
            {"ZYTE_API_SESSION_POOL_SIZE": 1},
            2,
            meta={"zyte_api_automap": False},
        ),
        id="transparent-automap-false",
    ),
    pytest.param(
        Scenario(
            "https://example.com/",
            {"ZYTE_API_SESSION_POOL_SIZE": 2},
            3,
            meta={"zyte_api_automap": {"browserHtml": True}},
        ),
        id="transparent-automap-params",
    ),
    pytest.param(
        Scenario(
            "https://example.com/?set_cookie=a=1",
            {"ZYTE_API_SESSION_POOL_SIZE": 1, "ZYTE_API_SESSION_COOKIE_MODE": True},
            3,
        ),
        id="cookie-mode",
    ),
    pytest.param(
        Scenario(
            "https://example.com/",
            {
                "ZYTE_API_SESSION_POOL_SIZE": 1,
                "ZYTE_API_SESSION_QUEUE_WAIT_TIME": 0,
                "ZYTE_API_SESSION_QUEUE_MAX_ATTEMPTS": 10_000,
            },
            4,
        ),
        id="zero-wait-time-many-attempts",
    ),
    pytest.param(
        Scenario(
            "https://example.com/",
            {
                "ZYTE_API_SESSION_POOL_SIZE": 1,
                "ZYTE_API_SESSION_QUEUE_WAIT_TIME": 0.001,
                "ZYTE_API_SESSION_QUEUE_MAX_ATTEMPTS": 1,
            },
            2,
            failures=1,
        ),
        id="tiny-wait-budget",
    ),
    pytest.param(
        Scenario(
            "https://example.com/?error=520",
            {
                "ZYTE_API_SESSION_POOL_SIZE": 1,
                "ZYTE_API_SESSION_PARAMS": {
                    "url": "https://example.com/init",
                    "browserHtml": True,
                },
                "DOWNLOADER_MIDDLEWARES": {SessionIDRemover: 700},
            },
            2,
            messages=("had no session ID assigned, unexpectedly",),
            failures=2,
        ),
        id="session-id-removed",
    ),
    pytest.param(
        Scenario(
            "https://example.com/",
            {
                "ZYTE_API_SESSION_POOL_SIZE": 1,
                "ZYTE_API_SESSION_COOKIE_MODE": True,
                "ZYTE_API_SESSION_PARAMS": {
                    "browserHtml": True,
                    "responseCookies": False,
                },
            },
            1,
            messages=("forcing it to True",),
        ),
        id="cookie-mode-response-cookies-off",
    ),
    pytest.param(
        Scenario(
            "https://example.com/",
            {"ZYTE_API_SESSION_POOL_SIZES": {"example.com": 1}},
            2,
            messages=("ZYTE_API_SESSION_POOL_SIZES is deprecated",),
        ),
        id="deprecated-pool-sizes",
    ),
    pytest.param(
        Scenario(
            "https://example.com/",
            {"ZYTE_API_SESSION_POOL_SIZE": 1},
            2,
            meta={"zyte_api_session_params": {"browserHtml": True, "echoData": 1}},
            messages=(
                (
                    "Session pool example.com[0] uses these session "
                    "initialization parameters: {'browserHtml': True, 'echoData': 1}"
                ),
            ),
        ),
        id="pool-per-init-params",
    ),
    # Transport faults of Zyte API itself (see tests/test_fault_matrix.py),
    # retried by the same python-zyte-api policy, without waits, on both.
    *(
        pytest.param(
            Scenario(
                f"https://example.com/?fault={fault}",
                {
                    "ZYTE_API_SESSION_POOL_SIZE": 1,
                    "ZYTE_API_SESSION_RETRY_POLICY": FAST_RETRY_POLICY,
                    # Theirs keeps a request waiting on a pool closed by bad
                    # inits for its whole wait budget (60 s by default).
                    "ZYTE_API_SESSION_QUEUE_WAIT_TIME": 0.05,
                },
                2,
                failures=failures,
            ),
            id=f"fault-{fault.replace('&', '-').replace('=', '-')}",
        )
        for fault, failures in (
            ("500", 2),
            ("500&fault_times=1", 0),
            ("bad_json", 2),
            ("bad_json&fault_times=1", 1),
            ("drop&fault_times=1", 0),
        )
    ),
]


def crawl_settings(
    server: FakeZyteAPI, scenario: Scenario, *, ours: bool
) -> dict[str, Any]:
    """Settings of a crawl of *scenario* through scrapy-zyte-api."""
    settings: dict[str, Any] = {
        "ZYTE_API_KEY": "test-key",
        "ZYTE_API_URL": server.api_url,
        "ZYTE_API_SESSION_ENABLED": True,
        "CLOSESPIDER_TIMEOUT": CLOSESPIDER_TIMEOUT,
        "LOG_LEVEL": "DEBUG",
        **scenario.settings,
    }
    middlewares = dict(settings.pop("DOWNLOADER_MIDDLEWARES", {}))
    addons: dict[Any, int] = {"scrapy_session_pools.Addon": 510} if ours else {}
    if scenario.setup == "addon":
        addons["scrapy_zyte_api.Addon"] = 500
    else:
        # scrapy-zyte-api's manual set-up, in which transparent mode is off.
        handler = "scrapy_zyte_api.ScrapyZyteAPIDownloadHandler"
        settings["DOWNLOAD_HANDLERS"] = {"http": handler, "https": handler}
        settings["REQUEST_FINGERPRINTER_CLASS"] = (
            "scrapy_zyte_api.ScrapyZyteAPIRequestFingerprinter"
        )
        middlewares["scrapy_zyte_api.ScrapyZyteAPIDownloaderMiddleware"] = 633
        if not ours:
            middlewares[
                "scrapy_zyte_api.ScrapyZyteAPISessionResetterDownloaderMiddleware"
            ] = 565
            middlewares["scrapy_zyte_api.ScrapyZyteAPISessionDownloaderMiddleware"] = (
                667
            )
    settings["ADDONS"] = addons
    settings["DOWNLOADER_MIDDLEWARES"] = middlewares
    return settings


def their_stats(crawler: Any) -> dict[str, Any]:
    return {
        key[len(ZYTE_API_PREFIX) :]: value
        for key, value in crawler.stats.get_stats().items()
        if key.startswith(ZYTE_API_PREFIX)
    }


def failure_names(crawler: Any) -> list[str]:
    """Return, sorted, the first base of the exception of each failed request
    that neither library defines: what an errback of theirs can catch."""
    libraries = ("scrapy_session_pools", "scrapy_zyte_api")
    return sorted(
        next(
            cls.__qualname__
            for cls in type(failure.value).__mro__
            if not cls.__module__.startswith(libraries)
        )
        for failure in spider_of(crawler).failures
    )


def raw_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [str(record.msg) for record in caplog.records]


@pytest.mark.parametrize("scenario", SCENARIOS)
@deferred_f_from_coro_f
async def test_same_session_stats_as_scrapy_zyte_api(zyte_api, scenario, caplog):
    caplog.set_level(logging.INFO)
    spider_cls = spider_for(
        scenario.url, requests=scenario.requests, meta=scenario.meta
    )
    theirs = await run_crawl(crawl_settings(zyte_api, scenario, ours=False), spider_cls)
    their_messages = raw_messages(caplog)
    their_log = zyte_api.state()["log"]
    zyte_api.reset()
    caplog.clear()
    ours = await run_crawl(crawl_settings(zyte_api, scenario, ours=True), spider_cls)
    our_messages = raw_messages(caplog)
    our_log = zyte_api.state()["log"]

    ours_stats = session_stats(ours)
    # Our extra stats count why sessions were retired; the rest must match.
    extra = {k: v for k, v in ours_stats.items() if "retired/" in k}
    assert {k: v for k, v in ours_stats.items() if k not in extra} == their_stats(
        theirs
    )
    assert their_stats(theirs)  # the scenario did use sessions
    assert sum(extra.values()) == scenario.retired
    assert ours.stats.get_value("finish_reason") == theirs.stats.get_value(
        "finish_reason"
    )
    # As many requests went through Zyte API, with a session where theirs
    # had one. (Replacement sessions are initialized with the URL of the
    # pool's last good init, not of the failed request: init URLs differ.)
    assert len(our_log) == len(their_log)
    assert {e["url"] for e in our_log} == {e["url"] for e in their_log}
    assert [bool(e["session"]) for e in our_log] == [
        bool(e["session"]) for e in their_log
    ]
    assert len(spider_of(ours).failures) == scenario.failures
    assert failure_names(ours) == failure_names(theirs)
    for expected in scenario.messages:
        assert any(expected in message for message in their_messages), expected
        assert any(expected in message for message in our_messages), expected


# A spider written for scrapy-zyte-api's handler in non-transparent mode,
# with a session config: the same code, only the imports differ.


def session_config_for(library: Any) -> type:
    """Return a session config class written against *library*'s API."""

    @library.session_config("example.com")
    class ShopSessionConfig(library.SessionConfig):  # type: ignore[misc]  # either library
        def location(self, request: Request) -> dict[str, str]:
            return super().location(request) or {"postalCode": "10001"}

        def params(self, request: Request) -> dict[str, Any]:
            return {
                "browserHtml": True,
                "actions": [
                    {"action": "setLocation", "address": self.location(request)}
                ],
            }

        def check(self, response: Response, request: Request) -> bool:
            if library.is_session_init_request(request):
                return bool(super().check(response, request))
            # Plain requests get no output in non-transparent mode, only
            # the session they were sent with.
            raw = getattr(response, "raw_api_response", {})
            answered = raw.get("session", {}).get("id")
            return bool(answered == library.get_request_session_id(request))

    return ShopSessionConfig


@pytest.fixture
def _their_registry_isolated() -> Iterator[None]:
    with isolated_registry(their_session_config_registry):
        yield


@pytest.mark.usefixtures("_their_registry_isolated")
@deferred_f_from_coro_f
async def test_non_transparent_spider_with_a_session_config_runs_unchanged(zyte_api):
    scenario = Scenario(
        "https://example.com/product",
        {"ZYTE_API_SESSION_POOL_SIZE": 2},
        6,
        setup="handler",
    )
    requests = [
        Request(f"https://example.com/product?page={n}", dont_filter=True)
        for n in range(scenario.requests)
    ]

    session_config_for(scrapy_zyte_api)
    theirs = await run_crawl(
        crawl_settings(zyte_api, scenario, ours=False), spider_with(requests)
    )
    their_log = zyte_api.state()["log"]
    zyte_api.reset()
    session_config_for(scrapy_session_pools)
    ours = await run_crawl(
        crawl_settings(zyte_api, scenario, ours=True), spider_with(requests)
    )
    our_log = zyte_api.state()["log"]

    expected = {"init/check-passed": 2, "use/check-passed": 6}
    assert their_stats(theirs) == expected
    assert session_stats(ours) == expected
    for log in (their_log, our_log):
        assert len(log) == 8
        assert all(e["session"] for e in log)
        assert [e["actions"] for e in log].count(["setLocation"]) == 2
    assert len(spider_of(ours).responses) == 6


@deferred_f_from_coro_f
async def test_a_removed_cookie_session_id_is_named_in_an_error(zyte_api, caplog):
    caplog.set_level(logging.INFO)
    scenario = Scenario(
        "https://example.com/?set_cookie=a=1",
        {
            "ZYTE_API_SESSION_POOL_SIZE": 1,
            "ZYTE_API_SESSION_COOKIE_MODE": True,
            "DOWNLOADER_MIDDLEWARES": {SessionIDRemover: 700},
        },
        1,
    )
    spider_cls = spider_for(scenario.url, requests=scenario.requests)
    theirs = await run_crawl(crawl_settings(zyte_api, scenario, ours=False), spider_cls)
    # scrapy-zyte-api raises it, so the request fails with it.
    [failure] = spider_of(theirs).failures
    assert "'_zyte_api_cookie_session_id' meta key" in str(failure.value)
    zyte_api.reset()
    caplog.clear()
    ours = await run_crawl(crawl_settings(zyte_api, scenario, ours=True), spider_cls)
    # We log it, and the good response still reaches the callback.
    [_error] = [
        r
        for r in caplog.records
        if r.levelno == logging.ERROR
        and "_zyte_api_cookie_session_id" in r.getMessage()
    ]
    assert "had no session ID assigned, unexpectedly" in caplog.text
    assert len(spider_of(ours).responses) == 1
