"""The control API, user data, lifecycle signals and pinned chains."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import pytest
from scrapy import Request
from scrapy.utils.defer import deferred_f_from_coro_f

from scrapy_session_pools import (
    SessionConfig,
    SessionControl,
    get_request_session_id,
    session_config,
    signals,
)

from .helpers import (
    RecordingSpider,
    gauges,
    http_settings,
    run_crawl,
    session_id_of,
    session_stats,
    spider_of,
    spider_with,
    zyte_api_settings,
)
from .test_http_sessions import page_field, real_session


class RetiringSpider(RecordingSpider):
    """Retires the session of the ``retire`` page, then asks for more pages.

    The later pages are requested from the callback that retired the session,
    so they are sent after the retirement whatever the order in which Scrapy
    runs downloads and callbacks.
    """

    start_requests_list = [
        Request(f"https://example.com/{path}") for path in ("1", "retire")
    ]

    def parse(self, response):
        super().parse(response)
        control = SessionControl.from_crawler(self.crawler)
        if response.url.endswith("/retire"):
            assert control.retire(control.session_id(response.request))
            for n in range(2, 6):
                yield Request(f"https://example.com/{n}", callback=self.parse)


@deferred_f_from_coro_f
async def test_callback_retires_a_session_and_the_pool_replaces_it(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api, ZYTE_API_SESSION_POOL_SIZE=1, CONCURRENT_REQUESTS=1
        ),
        RetiringSpider,
    )
    assert session_stats(crawler) == {
        "init/check-passed": 2,
        "use/check-passed": 6,
        "retired/manual": 1,
    }
    sessions = {
        response.url.rsplit("/", 1)[1]: session_id_of(response)
        for response in spider_of(crawler).responses
    }
    assert sorted(sessions) == ["1", "2", "3", "4", "5", "retire"]
    retired = sessions["retire"]
    assert sessions["1"] == retired
    # Every page requested after the retirement uses the replacement.
    [replacement] = {sessions[page] for page in ("2", "3", "4", "5")}
    assert replacement != retired


@deferred_f_from_coro_f
async def test_user_data_starts_empty_and_lives_as_long_as_its_session(zyte_api):
    # SessionConfig.process_request() runs once a request has its session, so
    # each request counts itself there in the data of its session, in the
    # order the requests are sent, whatever the order of the callbacks.
    counted: list[tuple[str | None, int]] = []

    @session_config("example.com")
    class CountingConfig(SessionConfig):
        def process_request(self, request):
            data = SessionControl.from_crawler(self.crawler).data(request)
            data["pages"] = data.get("pages", 0) + 1
            counted.append((get_request_session_id(request), data["pages"]))

    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_MAX_USES=3,
            CONCURRENT_REQUESTS=1,
        ),
        spider_with([Request(f"https://example.com/{n}") for n in range(6)]),
    )
    assert len(spider_of(crawler).responses) == 6
    # The data of the first session carries over between its three uses;
    # its replacement starts with empty data.
    assert [pages for _, pages in counted] == [1, 2, 3, 1, 2, 3]
    sessions = [session_id for session_id, _ in counted]
    assert None not in sessions
    assert sessions[0] == sessions[1] == sessions[2] != sessions[3]
    assert sessions[3] == sessions[4] == sessions[5]
    assert session_stats(crawler)["retired/max-uses"] >= 1


class SeedingSpider(RecordingSpider):
    """Adds a session obtained elsewhere before the crawl starts."""

    session_cookie = ""
    site_url = ""

    async def start(self):
        control = SessionControl.from_crawler(self.crawler)
        host = self.site_url.split("//")[1].split(":")[0]
        pool = self.site_url.split("//")[1]
        control.add(
            pool,
            cookies=[{"name": "sid", "value": self.session_cookie, "domain": host}],
        )
        assert [s.pool for s in control.sessions()] == [pool]
        for n in range(3):
            yield Request(f"{self.site_url}/page/{n}", callback=self.parse)


@deferred_f_from_coro_f
async def test_session_added_from_outside_is_used_without_init(site):
    sid = real_session(site)
    spider_cls = type(
        "Seeding",
        (SeedingSpider,),
        {"session_cookie": sid, "site_url": site.url()},
    )
    crawler = await run_crawl(
        http_settings(ZYTE_API_SESSION_POOL_SIZE=1, CONCURRENT_REQUESTS=1), spider_cls
    )
    assert session_stats(crawler) == {"use/check-passed": 3}
    assert {page_field(r, "session") for r in spider_of(crawler).responses} == {sid}
    assert site.state()["sessions_created"] == 1


@deferred_f_from_coro_f
async def test_lifecycle_signals_carry_pools_sessions_and_reasons(zyte_api):
    events: list[tuple[str, Any]] = []

    class SignalSpider(RecordingSpider):
        start_requests_list = [
            Request(f"https://example.com/?expire_after=2&page={n}") for n in range(3)
        ]

        @classmethod
        def from_crawler(cls, crawler, *args, **kwargs):
            spider = super().from_crawler(crawler, *args, **kwargs)
            crawler.signals.connect(spider.created, signal=signals.session_created)
            crawler.signals.connect(spider.retired, signal=signals.session_retired)
            crawler.signals.connect(spider.exhausted, signal=signals.pool_exhausted)
            return spider

        def created(self, pool, session):
            events.append(("created", (pool, session.uses)))

        def retired(self, pool, session, reason):
            events.append(("retired", (pool, reason, session.is_alive)))

        def exhausted(self, pool, waiting):
            events.append(("exhausted", (pool, waiting)))

    await run_crawl(
        zyte_api_settings(
            zyte_api, ZYTE_API_SESSION_POOL_SIZE=1, CONCURRENT_REQUESTS=1
        ),
        SignalSpider,
    )
    created = [e for kind, e in events if kind == "created"]
    retired = [e for kind, e in events if kind == "retired"]
    assert created == [("example.com", 0)] * 3
    assert retired == [("example.com", "expired", False)] * 2
    assert all(e[0] == "example.com" for kind, e in events if kind == "exhausted")


class ChainSpider(RecordingSpider):
    """A checkout-like chain: each step is pinned to the session of the first.

    *query* is the fake Zyte API scenario of every step.
    """

    policy = "fail"
    query = "?expire_after=3"

    async def start(self):
        yield Request(
            f"https://example.com/step/0{self.query}",
            callback=self.parse,
            errback=self.errback,
        )

    def parse(self, response):
        super().parse(response)
        step = int(response.url.split("/step/")[1].split("?")[0])
        if step < 4:
            yield Request(
                f"https://example.com/step/{step + 1}{self.query}",
                callback=self.parse,
                errback=self.errback,
                meta={
                    "zyte_api_session_id": get_request_session_id(response.request),
                    "zyte_api_session_pin_policy": self.policy,
                },
            )


@pytest.mark.parametrize(
    ("ending", "policy", "outcome"),
    [
        # A session expires at its 4th use (the init is the 1st): the first
        # one at step 2; with "renew", the chain's new session at step 4.
        pytest.param(
            ("?expire_after=3", {}),
            "fail",
            ([0, 1], 1, {"use/expired": 1, "use/pinned-session-lost": 1}),
            id="expired-fail",
        ),
        pytest.param(
            ("?expire_after=3", {}),
            "renew",
            ([0, 1, 2, 3, 4], 3, {"use/expired": 2, "use/pinned-session-lost": 2}),
            id="expired-renew",
        ),
        # A session at its uses limit (2) counts as lost for the chain.
        pytest.param(
            ("", {"ZYTE_API_SESSION_MAX_USES": 2}),
            "fail",
            ([0, 1], 1, {"use/pinned-session-lost": 1}),
            id="max-uses-fail",
        ),
        pytest.param(
            ("", {"ZYTE_API_SESSION_MAX_USES": 2}),
            "renew",
            ([0, 1, 2, 3, 4], 3, {"use/pinned-session-lost": 2}),
            id="max-uses-renew",
        ),
    ],
)
@deferred_f_from_coro_f
async def test_pinned_chain_follows_its_policy_when_its_session_ends(
    zyte_api, ending, policy, outcome
):
    # ending: the fake API scenario of the steps and the pool's limits;
    # outcome: the steps scraped, the sessions they used, the stats.
    (query, limits), (steps, sessions, stats) = ending, outcome
    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=2, **limits),
        type("Chain", (ChainSpider,), {"policy": policy, "query": query}),
    )
    responses = spider_of(crawler).responses
    assert [int(r.url.split("/step/")[1].split("?")[0]) for r in responses] == steps
    used = Counter(session_id_of(r) for r in responses)
    assert len(used) == sessions
    # What Zyte API saw agrees with the limit: an init, then at most 2 uses.
    if limits:
        seen = Counter(e["session"] for e in zyte_api.state()["log"] if e["session"])
        assert max(seen.values()) <= 3
    observed = session_stats(crawler)
    assert {key: observed.get(key, 0) for key in stats} == stats
    if policy == "fail":
        [failure] = spider_of(crawler).failures
        assert "pinned to session" in str(failure.value)


@deferred_f_from_coro_f
async def test_gauges_summarize_the_crawl_at_close(zyte_api, caplog):
    caplog.set_level(logging.INFO)
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=2,
            ZYTE_API_SESSION_MAX_USES=2,
            CONCURRENT_REQUESTS=1,
        ),
        type(
            "Six",
            (RecordingSpider,),
            {
                "start_requests_list": [
                    Request(f"https://example.com/{n}") for n in range(6)
                ]
            },
        ),
    )
    values = gauges(crawler)
    assert set(values) == {
        "peak-live-sessions",
        "peak-waiting-requests",
        "wait-seconds/max",
        "wait-seconds/p50",
        "wait-seconds/p95",
        "session-uses/mean",
        "session-uses/max",
        "session-seconds/mean",
        "session-seconds/max",
    }
    assert values["session-uses/max"] == 2
    # Renewal starts at the first of two uses; an old session serves until
    # its second use, beside its replacement: up to 2 x 2 live sessions.
    assert 2 <= values["peak-live-sessions"] <= 4
    assert "Session pools at close:" in caplog.text
    assert "example.com" in caplog.text


@deferred_f_from_coro_f
async def test_periodic_log_line_reports_pools(zyte_api, caplog):
    caplog.set_level(logging.INFO)
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_LOG_INTERVAL=0.1,
        ),
        type(
            "Slow",
            (RecordingSpider,),
            {"start_requests_list": [Request("https://example.com/?delay=0.5")]},
        ),
    )
    assert session_stats(crawler)["use/check-passed"] == 1
    assert "Session pools: 1 pool(s), 1 live session(s)" in caplog.text
