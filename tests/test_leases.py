"""A session is never lost: leases, hooks that fail, honest counts, handles.

Real crawls against the fake Zyte API and the gated site. The in-flight
count of sessions is read when the spider goes idle, before the close gives
every lease back, so that a leaked slot would show.
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import pytest
from scrapy import Request, signals
from scrapy.utils.defer import deferred_f_from_coro_f

from scrapy_session_pools import (
    SessionConfig,
    SessionControl,
    is_session_init_request,
    session_config,
)
from scrapy_session_pools import signals as session_signals

from .helpers import (
    RecordingSpider,
    http_settings,
    run_crawl,
    session_stats,
    spider_of,
    spider_with,
    zyte_api_settings,
)

PAGES = 4


def one_at_a_time(zyte_api: Any) -> dict[str, Any]:
    """A pool of one session serving one request at a time, short waits."""
    return zyte_api_settings(
        zyte_api,
        ZYTE_API_SESSION_POOL_SIZE=1,
        ZYTE_API_SESSION_MAX_CONCURRENCY=1,
        ZYTE_API_SESSION_QUEUE_MAX_ATTEMPTS=5,
    )


class HookFailure(Exception):
    """Raised by the session configs of these tests."""


def failing_config(
    hook: str,
    *,
    is_async: bool,
    base: type[SessionConfig] = SessionConfig,
    pattern: str = "example.com",
    page_1: str = "page=1",
) -> type[SessionConfig]:
    """A config (subclass of *base*, for *pattern*) whose *hook* raises once,
    for the page whose URL has *page_1*, or for the first init; the other
    calls work."""
    calls: Counter[str] = Counter()

    def should_fail(request: Request) -> bool:
        if hook in {"params", "init_session"}:
            calls[hook] += 1
            return calls[hook] == 1
        if page_1 not in request.url or is_session_init_request(request):
            return False
        calls[hook] += 1
        # A check that raises gets the request retried: raise only once.
        return hook != "check" or calls[hook] == 1

    def wrap(name: str, default: Any) -> Any:
        if is_async:

            async def async_method(self: Any, *args: Any) -> Any:
                if should_fail(args[-1] if name != "init_session" else args[1]):
                    raise HookFailure(name)
                result = default(self, *args)
                if hasattr(result, "__await__"):
                    result = await result
                return result

            return async_method

        def method(self: Any, *args: Any) -> Any:
            if should_fail(args[-1] if name != "init_session" else args[1]):
                raise HookFailure(name)
            return default(self, *args)

        return method

    if hook == "init_session":

        async def init_session(self: Any, session_id: str, request: Any, download: Any):
            if should_fail(request):
                raise HookFailure(hook)
            return await base.init_session(self, session_id, request, download)

        body: dict[str, Any] = {"init_session": init_session}
    else:
        body = {hook: wrap(hook, getattr(base, hook))}
    cls = type(f"Failing_{hook}", (base,), body)
    return session_config(pattern)(cls)


class IdleProbe(RecordingSpider):
    """Records the requests in flight on sessions when the spider goes idle."""

    in_flight_when_idle: int | None = None

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> Any:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.idle, signal=signals.spider_idle)
        return spider

    def idle(self) -> None:
        if self.in_flight_when_idle is None:
            control = SessionControl.from_crawler(self.crawler)
            self.in_flight_when_idle = sum(s.in_flight for s in control.sessions())


def probe_with(requests: list[Request]) -> type[IdleProbe]:
    return type("Probe", (IdleProbe,), {"start_requests_list": list(requests)})


HOOK_ERRORS = "downloader/exception_type_count/scrapy_session_pools.hooks.HookError"
HOOKS = [
    # hook, what happens to the request of page 1
    ("enabled", "fails"),
    ("session_kind", "fails"),
    ("cookie_mode", "fails"),
    ("process_request", "fails"),
    ("check", "retried"),
    ("params", "scraped"),
    ("init_session", "scraped"),
]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(("hook", "fate"), HOOKS, ids=[h for h, _ in HOOKS])
@deferred_f_from_coro_f
async def test_a_raising_hook_never_leaks_a_session(
    zyte_api, caplog, hook, fate, is_async
):
    failing_config(hook, is_async=is_async)
    requests = [
        Request(f"https://example.com/?page={n}", dont_filter=True)
        for n in range(PAGES)
    ]
    crawler = await run_crawl(one_at_a_time(zyte_api), probe_with(requests))
    spider = spider_of(crawler)
    assert isinstance(spider, IdleProbe)
    scraped = sorted(r.url for r in spider.responses)
    failed = sorted(f.request.url for f in spider.failures)
    others = [f"https://example.com/?page={n}" for n in range(PAGES) if n != 1]
    if fate == "fails":
        assert scraped == others
        assert failed == ["https://example.com/?page=1"]
        # Counted where Scrapy counts the exceptions of downloads.
        assert crawler.stats.get_value(HOOK_ERRORS) == 1
    else:
        assert scraped == sorted([*others, "https://example.com/?page=1"])
        assert failed == []
    # The failure was logged with its traceback, naming the hook.
    assert f"{hook}() raised an exception" in caplog.text
    assert f"HookFailure: {hook}" in caplog.text
    # No session slot was left taken.
    assert spider.in_flight_when_idle == 0
    assert crawler.stats.get_value("finish_reason") == "finished"


HTTP_HOOKS = [
    ("enabled", "fails"),
    ("session_kind", "fails"),
    ("process_request", "fails"),
    ("check", "retried"),
    ("params", "scraped"),
    ("init_session", "scraped"),
]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(("hook", "fate"), HTTP_HOOKS, ids=[h for h, _ in HTTP_HOOKS])
@deferred_f_from_coro_f
async def test_a_raising_hook_never_leaks_an_http_session(
    site, caplog, hook, fate, is_async
):
    landing = site.url("/landing")

    class LandingConfig(SessionConfig):
        def params(self, request: Request) -> dict[str, Any]:
            return {"url": landing}

    failing_config(
        hook,
        is_async=is_async,
        base=LandingConfig,
        pattern=urlsplit(site.url()).netloc,
        page_1="/page/1",
    )
    requests = [Request(site.url(f"/page/{n}"), dont_filter=True) for n in range(PAGES)]
    crawler = await run_crawl(
        http_settings(
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_MAX_CONCURRENCY=1,
            ZYTE_API_SESSION_QUEUE_MAX_ATTEMPTS=5,
        ),
        probe_with(requests),
    )
    spider = spider_of(crawler)
    assert isinstance(spider, IdleProbe)
    scraped = sorted(r.url for r in spider.responses)
    failed = sorted(f.request.url for f in spider.failures)
    page_1 = site.url("/page/1")
    others = sorted(site.url(f"/page/{n}") for n in range(PAGES) if n != 1)
    if fate == "fails":
        assert (scraped, failed) == (others, [page_1])
        assert crawler.stats.get_value(HOOK_ERRORS) == 1
    else:
        assert (scraped, failed) == (sorted([*others, page_1]), [])
    assert f"{hook}() raised an exception" in caplog.text
    assert spider.in_flight_when_idle == 0
    # Every page the site served came with a session cookie.
    pages = [e for e in site.state()["log"] if e["path"].startswith("/page/")]
    assert all(e["session"] for e in pages)


@deferred_f_from_coro_f
async def test_a_raising_pool_hook_closes_the_crawl_without_leaking(zyte_api):
    failing_config("pool", is_async=True)
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_MAX_CONCURRENCY=1,
            CONCURRENT_REQUESTS=1,
        ),
        probe_with([Request(f"https://example.com/?page={n}") for n in range(PAGES)]),
    )
    assert crawler.stats.get_value("finish_reason") == "pool_error"
    assert session_stats(crawler)["pool-error"] == 1


@deferred_f_from_coro_f
async def test_async_cookie_mode_is_awaited(zyte_api):
    @session_config("example.com")
    class AsyncCookieMode(SessionConfig):
        async def cookie_mode(self, request):
            return False

    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=1),
        spider_with([Request("https://example.com/")]),
    )
    [response] = spider_of(crawler).responses
    # Not cookie mode: a Zyte API session ID, no cookie session ID.
    assert response.meta["zyte_api_automap"]["session"]["id"]
    assert "_zyte_api_cookie_session_id" not in response.meta
    assert all(e["session"] for e in zyte_api.state()["log"])


@deferred_f_from_coro_f
async def test_a_replacement_request_takes_the_lease_over(zyte_api):
    @session_config("example.com")
    class Replacing(SessionConfig):
        def process_request(self, request):
            if "replaced" in request.url:
                return None
            return request.replace(url=f"{request.url}&replaced=1")

    crawler = await run_crawl(
        one_at_a_time(zyte_api),
        probe_with(
            [
                Request(f"https://example.com/?page={n}", dont_filter=True)
                for n in range(PAGES)
            ]
        ),
    )
    spider = spider_of(crawler)
    assert isinstance(spider, IdleProbe)
    assert sorted(r.url for r in spider.responses) == [
        f"https://example.com/?page={n}&replaced=1" for n in range(PAGES)
    ]
    assert spider.failures == []
    assert spider.in_flight_when_idle == 0


# Counts that match the wire, and lifetimes used to the end.


def site_uses(site: Any) -> list[int]:
    """Requests per session that the site saw for its pages."""
    counts = Counter(
        entry["session"]
        for entry in site.state()["log"]
        if entry["path"].startswith("/page/") and entry["session"]
    )
    return sorted(counts.values())


class UsesRecorder(RecordingSpider):
    """Records the uses and age of each session when it retires."""

    retired: list[tuple[str, int, float]]

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> Any:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.retired = []
        crawler.signals.connect(
            spider.on_retired, signal=session_signals.session_retired
        )
        return spider

    def on_retired(self, pool: str, session: Any, reason: str) -> None:
        self.retired.append((reason, session.uses, session.age))


@pytest.mark.parametrize(
    ("limits", "reason", "least"),
    [
        pytest.param({"ZYTE_API_SESSION_MAX_USES": 10}, "max-uses", 9, id="uses"),
        pytest.param(
            {
                "ZYTE_API_SESSION_MAX_AGE": 1.5,
                "ZYTE_API_SESSION_DELAY": 0.1,
                "ZYTE_API_SESSION_RANDOMIZE_DELAY": False,
            },
            "max-age",
            1.35,
            id="age",
        ),
    ],
)
@pytest.mark.parametrize("concurrency", [16, 32])
@deferred_f_from_coro_f
async def test_uses_match_the_site_and_sessions_live_to_their_limit(
    site, limits, reason, least, concurrency
):
    pages = 160  # enough for sessions to reach their limit, however many
    crawler = await run_crawl(
        http_settings(
            ZYTE_API_SESSION_POOL_SIZE=2,
            ZYTE_API_SESSION_PARAMS={"url": site.url("/landing")},
            CONCURRENT_REQUESTS=concurrency,
            **limits,
        ),
        type(
            "Pages",
            (UsesRecorder,),
            {
                "start_requests_list": [
                    Request(site.url(f"/page/{n}")) for n in range(pages)
                ]
            },
        ),
    )
    spider = spider_of(crawler)
    assert isinstance(spider, UsesRecorder)
    assert len(spider.responses) == pages
    live = [info.uses for info in SessionControl.from_crawler(crawler).sessions()]
    ours = sorted([uses for _, uses, _ in spider.retired] + live)
    ours = [uses for uses in ours if uses]  # renewals made after the last page
    assert ours == site_uses(site)
    assert sum(ours) == pages
    ended = [(uses, age) for why, uses, age in spider.retired if why == reason]
    assert ended  # the limit was reached
    for uses, age in ended:
        assert (uses if reason == "max-uses" else age) >= least


# Session handles in callbacks.


class ChainSpider(RecordingSpider):
    """Requests page n + 1 from the callback of page n, up to *pages*."""

    pages = 2

    async def start(self) -> Any:
        yield Request("https://example.com/?page=0", callback=self.parse)

    def on_response(self, response: Any) -> None:
        raise NotImplementedError

    def parse(self, response: Any) -> Any:
        self.on_response(response)
        super().parse(response)
        page = int(response.url.rsplit("=", 1)[1])
        if page + 1 < self.pages:
            yield Request(f"https://example.com/?page={page + 1}", callback=self.parse)


class HandleSpider(ChainSpider):
    """Retires the session of each response, then uses its data."""

    seen: list[dict[str, Any]]

    def on_response(self, response: Any) -> None:
        control = SessionControl.from_crawler(self.crawler)
        handle = control.session(response)
        assert handle is not None
        assert handle.is_alive
        assert handle.retire() is True
        handle.data["after"] = response.url
        control.data(response)["also"] = True
        self.seen.append(
            {
                "is_alive": handle.is_alive,
                "reason": handle.retire_reason,
                "data": dict(control.data(response.request)),
                "pool": handle.pool,
                "kind": handle.kind,
            }
        )


@deferred_f_from_coro_f
async def test_a_callback_uses_the_data_of_a_retired_session(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=1),
        type("Handles", (HandleSpider,), {"seen": []}),
    )
    spider = spider_of(crawler)
    assert isinstance(spider, HandleSpider)
    assert [s["data"] for s in spider.seen] == [
        {"after": f"https://example.com/?page={n}", "also": True} for n in range(2)
    ]
    assert {
        (s["is_alive"], s["reason"], s["pool"], s["kind"]) for s in spider.seen
    } == {(False, "manual", "example.com", "zyte_api")}
    assert session_stats(crawler)["retired/manual"] == 2


class MarkingSpider(ChainSpider):
    pages = 4

    def on_response(self, response: Any) -> None:
        handle = SessionControl.from_crawler(self.crawler).session(response)
        assert handle is not None
        handle.mark_bad()


@deferred_f_from_coro_f
async def test_mark_bad_retires_a_session_at_the_error_maximum(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api, ZYTE_API_SESSION_POOL_SIZE=1, ZYTE_API_SESSION_MAX_ERRORS=2
        ),
        MarkingSpider,
    )
    # Two marks per session: 4 pages, 2 sessions retired for errors, and a
    # replacement of the last one.
    stats = session_stats(crawler)
    assert stats["retired/errors"] == 2
    assert stats["init/check-passed"] == 3
    assert len(spider_of(crawler).responses) == 4
