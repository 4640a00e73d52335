from __future__ import annotations

from typing import Any

import pytest
from scrapy import Request
from scrapy.exceptions import CloseSpider
from scrapy.utils.defer import deferred_f_from_coro_f

from scrapy_session_pools import SessionConfig, session_config

from .helpers import run_crawl, session_stats, spider_of, spider_with, zyte_api_settings

TARGET = "https://example.com/target"
META_PARAMS = {"url": "https://example.com/meta-params", "browserHtml": True}
SETTING_PARAMS = {"url": "https://example.com/setting-params", "browserHtml": True}
META_LOCATION = {"postalCode": "10001"}
SETTING_LOCATION = {"postalCode": "20002"}


def init_requests(state: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [
        (entry["url"], entry["actions"])
        for entry in state["log"]
        if entry["created_session"]
    ]


@pytest.mark.parametrize(
    ("meta", "settings", "expected"),
    [
        pytest.param({}, {}, (TARGET, []), id="default-browser-request"),
        pytest.param(
            {"zyte_api_session_params": META_PARAMS},
            {
                "ZYTE_API_SESSION_PARAMS": SETTING_PARAMS,
                "ZYTE_API_SESSION_LOCATION": SETTING_LOCATION,
            },
            (META_PARAMS["url"], []),
            id="meta-params-beat-everything",
        ),
        pytest.param(
            {
                "zyte_api_session_params": META_PARAMS,
                "zyte_api_session_location": META_LOCATION,
            },
            {},
            (META_PARAMS["url"], []),
            id="meta-params-beat-meta-location",
        ),
        pytest.param(
            {"zyte_api_session_location": META_LOCATION},
            {"ZYTE_API_SESSION_PARAMS": SETTING_PARAMS},
            (TARGET, ["setLocation"]),
            id="meta-location-beats-setting-params",
        ),
        pytest.param(
            {},
            {
                "ZYTE_API_SESSION_PARAMS": SETTING_PARAMS,
                "ZYTE_API_SESSION_LOCATION": SETTING_LOCATION,
            },
            (SETTING_PARAMS["url"], []),
            id="setting-params-beat-setting-location",
        ),
        pytest.param(
            {},
            {"ZYTE_API_SESSION_LOCATION": SETTING_LOCATION},
            (TARGET, ["setLocation"]),
            id="setting-location",
        ),
        pytest.param(
            {"zyte_api_session_location": {}},
            {"ZYTE_API_SESSION_LOCATION": SETTING_LOCATION},
            (TARGET, []),
            id="empty-meta-location-disables-setting-location",
        ),
    ],
)
@deferred_f_from_coro_f
async def test_init_parameters_follow_the_documented_precedence(
    zyte_api, meta, settings, expected
):
    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=1, **settings),
        spider_with([Request(TARGET, meta=meta)]),
    )
    assert session_stats(crawler) == {
        "init/check-passed": 1,
        "use/check-passed": 1,
    }
    assert init_requests(zyte_api.state()) == [expected]


@deferred_f_from_coro_f
async def test_location_method_of_a_config_is_used_when_nothing_else_applies(
    zyte_api,
):
    @session_config("example.com")
    class LocationConfig(SessionConfig):
        def location(self, request: Request) -> dict[str, str]:
            return super().location(request) or {"postalCode": "30003"}

    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=1),
        spider_with([Request(TARGET)]),
    )
    assert session_stats(crawler) == {
        "init/check-passed": 1,
        "use/check-passed": 1,
    }
    assert init_requests(zyte_api.state()) == [(TARGET, ["setLocation"])]
    live = zyte_api.state()["live_sessions"]
    assert [s["location"] for s in live.values()] == [{"postalCode": "30003"}]


@deferred_f_from_coro_f
async def test_params_that_raise_are_logged_and_count_as_bad_inits(zyte_api, caplog):
    @session_config("example.com")
    class BrokenParams(SessionConfig):
        def params(self, request: Request) -> dict[str, Any]:
            raise KeyError("missing-token")

    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api, ZYTE_API_SESSION_POOL_SIZE=1, ZYTE_API_SESSION_MAX_BAD_INITS=2
        ),
        spider_with([Request(TARGET)]),
    )
    assert session_stats(crawler) == {"init/param-error": 2}
    assert crawler.stats.get_value("finish_reason") == "bad_session_inits"
    assert "BrokenParams.params() raised an exception for <GET" in caplog.text
    assert "KeyError: 'missing-token'" in caplog.text
    assert zyte_api.state()["requests"] == 0


@deferred_f_from_coro_f
async def test_init_requests_carry_the_session_and_the_session_meta(zyte_api):
    seen: list[Request] = []

    @session_config("example.com")
    class RecordingConfig(SessionConfig):
        def check(self, response, request):
            seen.append(request)
            return super().check(response, request)

    meta = {
        "zyte_api_session_location": META_LOCATION,
        "zyte_api_session_enabled": True,
    }
    await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=1),
        spider_with([Request(TARGET, meta=meta)]),
    )
    init, use = seen
    assert init.meta["_is_session_init_request"] is True
    assert init.meta["dont_merge_cookies"] is True
    assert init.meta["zyte_api_session_location"] == META_LOCATION
    assert "zyte_api_session_enabled" not in init.meta
    assert init.meta["zyte_api_retry_policy"] == (
        "scrapy_session_pools.SESSION_DEFAULT_RETRY_POLICY"
    )
    init_session = init.meta["zyte_api"]["session"]["id"]
    assert use.meta["zyte_api_automap"]["session"]["id"] == init_session
    assert use.meta["zyte_api_provider"]["session"]["id"] == init_session
    assert "_is_session_init_request" not in use.meta


@deferred_f_from_coro_f
async def test_custom_init_session_that_raises_is_logged_with_its_traceback(
    zyte_api, caplog
):
    @session_config("example.com")
    class BrokenInit(SessionConfig):
        async def init_session(self, session_id, request, download):
            await download(Request("https://example.com/login"))
            raise LookupError("no token on the login page")

    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api, ZYTE_API_SESSION_POOL_SIZE=1, ZYTE_API_SESSION_MAX_BAD_INITS=1
        ),
        spider_with([Request(TARGET)]),
    )
    assert session_stats(crawler) == {"init/failed": 1}
    assert "BrokenInit.init_session() raised an exception" in caplog.text
    assert "LookupError: no token on the login page" in caplog.text
    assert [e["url"] for e in zyte_api.state()["log"]] == ["https://example.com/login"]


@deferred_f_from_coro_f
async def test_download_errors_in_a_custom_init_are_failed_inits_not_bugs(
    zyte_api, caplog
):
    @session_config("example.com")
    class ChainInit(SessionConfig):
        async def init_session(self, session_id, request, download):
            await download(Request("https://example.com/login?error=520"))
            return True

    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api, ZYTE_API_SESSION_POOL_SIZE=1, ZYTE_API_SESSION_MAX_BAD_INITS=1
        ),
        spider_with([Request(TARGET)]),
    )
    assert session_stats(crawler) == {"init/failed": 1}
    assert "raised an exception" not in caplog.text
    assert "failed: RequestError(" in caplog.text


@deferred_f_from_coro_f
async def test_async_hooks_are_awaited(zyte_api):
    @session_config("example.com")
    class AsyncConfig(SessionConfig):
        async def enabled(self, request: Request) -> bool:
            return True

        async def pool(self, request: Request) -> str:
            return "async-pool"

        async def params(self, request: Request) -> dict[str, Any]:
            return {"url": "https://example.com/async-init", "browserHtml": True}

        async def check(self, response, request) -> bool:
            return True

        async def process_request(self, request: Request) -> None:
            request.meta["processed"] = True

    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api, ZYTE_API_SESSION_POOL_SIZE=1, ZYTE_API_SESSION_STATS_PER_POOL=True
        ),
        spider_with([Request(TARGET)]),
    )
    assert session_stats(crawler) == {
        "pools/async-pool/init/check-passed": 1,
        "pools/async-pool/use/check-passed": 1,
    }
    assert init_requests(zyte_api.state()) == [("https://example.com/async-init", [])]
    [response] = spider_of(crawler).responses
    assert response.meta["processed"] is True


@deferred_f_from_coro_f
async def test_close_spider_from_enabled_closes_with_its_reason(zyte_api):
    @session_config("example.com")
    class StopConfig(SessionConfig):
        def enabled(self, request: Request) -> bool:
            raise CloseSpider("not_allowed_here")

    crawler = await run_crawl(
        zyte_api_settings(zyte_api), spider_with([Request(TARGET)])
    )
    assert crawler.stats.get_value("finish_reason") == "not_allowed_here"
    assert zyte_api.state()["requests"] == 0


@pytest.mark.parametrize(
    ("meta", "settings", "expected"),
    [
        pytest.param({}, {}, ("https://example.com/from-params", []), id="nothing"),
        pytest.param(
            {"zyte_api_session_location": META_LOCATION},
            {},
            ("https://example.com/from-params", []),
            id="meta-location-nullified",
        ),
        pytest.param(
            {},
            {"ZYTE_API_SESSION_LOCATION": SETTING_LOCATION},
            ("https://example.com/from-params", []),
            id="setting-location-nullified",
        ),
        pytest.param(
            {"zyte_api_session_params": META_PARAMS},
            {},
            (META_PARAMS["url"], []),
            id="meta-params-still-win",
        ),
        pytest.param(
            {},
            {"ZYTE_API_SESSION_PARAMS": SETTING_PARAMS},
            (SETTING_PARAMS["url"], []),
            id="setting-params-still-win",
        ),
    ],
)
@deferred_f_from_coro_f
async def test_params_override_that_ignores_location_nullifies_locations(
    zyte_api, meta, settings, expected
):
    @session_config("example.com")
    class ParamsOnly(SessionConfig):
        def params(self, request: Request) -> dict[str, Any]:
            return {"url": "https://example.com/from-params", "browserHtml": True}

    await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=1, **settings),
        spider_with([Request(TARGET, meta=meta)]),
    )
    assert init_requests(zyte_api.state()) == [expected]


@pytest.mark.parametrize(
    ("meta", "settings", "expected"),
    [
        pytest.param(
            {"zyte_api_session_location": META_LOCATION},
            {},
            {"postalCode": "30003"},
            id="meta-location-ignored",
        ),
        pytest.param(
            {},
            {"ZYTE_API_SESSION_LOCATION": SETTING_LOCATION},
            {"postalCode": "30003"},
            id="setting-location-ignored",
        ),
        pytest.param(
            {},
            {
                "ZYTE_API_SESSION_LOCATION": SETTING_LOCATION,
                "ZYTE_API_SESSION_PARAMS": SETTING_PARAMS,
            },
            {},
            id="setting-params-still-win",
        ),
    ],
)
@deferred_f_from_coro_f
async def test_location_override_without_super_replaces_location_sources(
    zyte_api, meta, settings, expected
):
    @session_config("example.com")
    class FixedLocation(SessionConfig):
        def location(self, request: Request) -> dict[str, str]:
            return {"postalCode": "30003"}

    await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=1, **settings),
        spider_with([Request(TARGET, meta=meta)]),
    )
    [live] = zyte_api.state()["live_sessions"].values()
    assert live["location"] == expected
