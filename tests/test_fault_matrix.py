"""Transport faults, one real crawl each, with the exact outcome of each.

Each case sends its requests through a fault of the transport: Zyte API
answering 500, invalid JSON or dropping the connection (always, or once), a
website that drops connections or answers slower than DOWNLOAD_TIMEOUT, a
proxy that refuses connections or credentials. Each asserts what a user
sees: every request scraped or failed with a named exception, the session
stats, the close reason, a log line, and the faults the server answered.

Init faults of Zyte API are also run side by side with scrapy-zyte-api in
tests/test_compat.py (``fault-*`` scenarios); slow and dying Zyte API in
tests/test_backend_faults.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from scrapy import Request
from scrapy.utils.defer import deferred_f_from_coro_f

from .helpers import (
    http_settings,
    run_crawl,
    session_stats,
    spider_of,
    spider_with,
    zyte_api_settings,
)
from .test_http_sessions import landing, page_field

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from scrapy_session_pools.testing import FakeProxy, FakeSite, FakeZyteAPI

FAST_RETRY_POLICY = "tests.fast_retries.FAST_RETRY_POLICY"

#: The exception of a lost connection or a timeout, by Scrapy version
#: (Scrapy 2.15 wraps Twisted's in DownloadFailedError/DownloadTimeoutError).
_SAME_OUTCOME = {
    "ResponseNeverReceived": "connection lost",
    "DownloadFailedError": "connection lost",
    "TimeoutError": "timed out",
    "DownloadTimeoutError": "timed out",
}


@dataclass(frozen=True)
class Fault:
    """A fault case: what is sent through which fault, and what comes out."""

    #: Query string added to each page URL (the fault knobs).
    knobs: str
    #: Sorted outcome of each request: "scraped" or its exception's name.
    outcomes: list[str]
    stats: dict[str, int]
    #: Faults the server answered (see each server's ``fault`` knob).
    faults: int
    #: A message the log must have (at any level), and a stat that counts
    #: the failed requests (Scrapy's or scrapy-zyte-api's).
    message: str = ""
    stat: str = ""
    finish_reason: str = "finished"
    requests: int = 2
    #: Query string of the init URL.
    init_knobs: str = ""
    settings: dict[str, Any] = field(default_factory=dict)


def outcomes(crawler: Crawler) -> list[str]:
    spider = spider_of(crawler)
    names = [type(failure.value).__name__ for failure in spider.failures]
    return sorted(
        [_SAME_OUTCOME.get(name, name) for name in names]
        + ["scraped"] * len(spider.responses)
    )


def assert_logged_and_counted(
    case: Fault, crawler: Crawler, caplog: pytest.LogCaptureFixture
) -> None:
    assert case.message in caplog.text
    if case.stat:
        assert crawler.stats is not None
        assert crawler.stats.get_value(case.stat) == len(spider_of(crawler).failures)


def warnings_of(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.WARNING
    )


#: scrapy-zyte-api's DEBUG message for an error answer, and the stat.
ZYTE_API_ERROR = "Got an error when processing Zyte API request"
REQUEST_ERRORS = "downloader/exception_type_count/zyte_api._errors.RequestError"


ZYTE_API_FAULTS = [
    pytest.param(
        Fault(
            "fault=500",
            ["RequestError"] * 2,
            {"init/check-passed": 1},
            faults=4,  # python-zyte-api retries an undocumented error once
            message="Got Zyte API error (status=500",
            stat=REQUEST_ERRORS,
        ),
        id="500",
    ),
    pytest.param(
        Fault(
            "fault=500&fault_times=1",
            ["scraped"] * 2,
            {"init/check-passed": 1, "use/check-passed": 2},
            faults=2,
        ),
        id="500-once",
    ),
    pytest.param(
        Fault(
            "fault=bad_json",
            ["JSONDecodeError"] * 2,
            {"init/check-passed": 1},
            faults=2,  # not retried
            message="Expecting value",
            stat="downloader/exception_type_count/json.decoder.JSONDecodeError",
        ),
        id="bad-json",
    ),
    pytest.param(
        Fault(
            "fault=drop&fault_times=1",
            ["scraped"] * 2,
            {"init/check-passed": 1, "use/check-passed": 2},
            faults=2,
        ),
        id="drop-once",
    ),
    pytest.param(
        Fault(
            "fault=drop",
            ["ServerDisconnectedError"],
            {"init/check-passed": 1},
            faults=2,  # this policy tries network errors twice
            requests=1,
            message=f"{ZYTE_API_ERROR} (https://example.com/page?fault=drop&page=0)",
            stat=(
                "downloader/exception_type_count/"
                "aiohttp.client_exceptions.ServerDisconnectedError"
            ),
            settings={
                "ZYTE_API_SESSION_RETRY_POLICY": "tests.fast_retries.GIVE_UP_POLICY"
            },
        ),
        id="drop",
    ),
    pytest.param(
        Fault(
            "",
            # The request that started the last init, and the one waiting
            # for a session, fail for the same reason.
            ["TooManyBadSessionInits"] * 2,
            {"init/failed": 8},
            faults=16,
            message="had 8 session initializations in a row fail",
            finish_reason="bad_session_inits",
            init_knobs="fault=500",
        ),
        id="init-500",
    ),
]


@pytest.mark.parametrize("case", ZYTE_API_FAULTS)
@deferred_f_from_coro_f
async def test_zyte_api_fault(
    zyte_api: FakeZyteAPI, case: Fault, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = zyte_api_settings(
        zyte_api,
        **{
            "ZYTE_API_SESSION_POOL_SIZE": 1,
            "ZYTE_API_SESSION_PARAMS": {
                "url": f"https://example.com/init?{case.init_knobs}",
                "browserHtml": True,
            },
            "ZYTE_API_SESSION_RETRY_POLICY": FAST_RETRY_POLICY,
            **case.settings,
        },
    )
    requests = [
        Request(f"https://example.com/page?{case.knobs}&page={n}")
        for n in range(case.requests)
    ]
    crawler = await run_crawl(settings, spider_with(requests))
    assert outcomes(crawler) == case.outcomes
    assert session_stats(crawler) == case.stats
    assert crawler.stats is not None
    assert crawler.stats.get_value("finish_reason") == case.finish_reason
    assert zyte_api.state()["faults"] == case.faults
    assert_logged_and_counted(case, crawler, caplog)


SITE_FAULTS = [
    pytest.param(
        Fault(
            "fault=drop",
            ["connection lost"],
            # Each of the 3 attempts (RETRY_TIMES = 2) is an error of its
            # session, which MAX_ERRORS = 1 retires; the pool keeps 1 live.
            {"init/check-passed": 4, "use/failed": 3, "retired/errors": 3},
            faults=3,
            requests=1,
            message="Gave up retrying",
            stat="retry/max_reached",
        ),
        id="drop",
    ),
    pytest.param(
        Fault(
            # The first is resent by Twisted, unseen: the second is an error.
            "fault=drop&fault_times=2",
            ["scraped"],
            {
                "init/check-passed": 2,
                "use/failed": 1,
                "retired/errors": 1,
                "use/check-passed": 1,
            },
            faults=2,
            requests=1,
        ),
        id="drop-twice",
    ),
    pytest.param(
        Fault(
            "delay=3",
            ["timed out"],
            {"init/check-passed": 4, "use/failed": 3, "retired/errors": 3},
            faults=0,
            requests=1,
            message="Gave up retrying",
            stat="retry/max_reached",
            settings={"DOWNLOAD_TIMEOUT": 1},
        ),
        id="slower-than-download-timeout",
    ),
]


@pytest.mark.parametrize("case", SITE_FAULTS)
@deferred_f_from_coro_f
async def test_website_fault(
    site: FakeSite, case: Fault, caplog: pytest.LogCaptureFixture
) -> None:
    settings = http_settings(
        ZYTE_API_SESSION_POOL_SIZE=1,
        ZYTE_API_SESSION_PARAMS=landing(site),
        **case.settings,
    )
    requests = [
        Request(site.url(f"/page/{n}?{case.knobs}")) for n in range(case.requests)
    ]
    crawler = await run_crawl(settings, spider_with(requests))
    assert outcomes(crawler) == case.outcomes
    assert session_stats(crawler) == case.stats
    assert crawler.stats is not None
    assert crawler.stats.get_value("finish_reason") == case.finish_reason
    # Twisted resends a GET once when a reused connection closes before any
    # answer, unseen by Scrapy: the site may see up to twice our attempts.
    assert case.faults <= site.state()["faults"] <= 2 * case.faults
    assert_logged_and_counted(case, crawler, caplog)


def _bad_proxy(which: str, proxies: list[FakeProxy]) -> str:
    if which == "refusing":
        return "http://127.0.0.1:9"  # nothing listens there
    return proxies[0].proxy_url.replace("secret1", "wrong")  # answers 407


@pytest.mark.parametrize(
    "bad_proxy",
    [
        # Which proxy, the stat of its failed inits, and the warning.
        ("refusing", "init/failed", "Connection was refused"),
        ("wrong-credentials", "init/check-failed", ""),
    ],
    ids=["refusing", "wrong-credentials"],
)
@deferred_f_from_coro_f
async def test_bad_proxy_profile_is_left_for_the_good_one(
    site: FakeSite,
    proxies: list[FakeProxy],
    bad_proxy: tuple[str, str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    which, init_failure, message = bad_proxy
    good = proxies[2]
    profiles = [
        {"name": "bad", "proxy": _bad_proxy(which, proxies)},
        {"name": "good", "proxy": good.proxy_url},
    ]
    crawler = await run_crawl(
        http_settings(
            ZYTE_API_SESSION_POOL_SIZE=2,
            ZYTE_API_SESSION_PARAMS=landing(site),
            ZYTE_API_SESSION_PROFILES=profiles,
        ),
        spider_with([Request(site.url(f"/page/{n}")) for n in range(6)]),
    )
    spider = spider_of(crawler)
    assert spider.failures == []
    assert len(spider.responses) == 6
    assert {page_field(r, "identity") for r in spider.responses} == {
        f"{good.name}|test-agent"
    }
    stats = session_stats(crawler)
    assert stats == {
        init_failure: stats[init_failure],
        "init/check-passed": 2,
        "use/check-passed": 6,
    }
    assert stats[init_failure] >= 1
    assert message in warnings_of(caplog)
    assert "secret1" not in caplog.text
