"""Session config hooks in real crawls: per-session data, replacements, locations."""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy.utils.defer import deferred_f_from_coro_f

from scrapy_session_pools import (
    LocationSessionConfig,
    SessionConfig,
    get_request_session_id,
    is_session_init_request,
    session_config,
)

from .helpers import (
    run_crawl,
    session_id_of,
    session_stats,
    spider_of,
    spider_with,
    zyte_api_settings,
)


@deferred_f_from_coro_f
async def test_token_from_the_init_response_is_added_to_each_request(zyte_api):
    @session_config("shop.example")
    class TokenConfig(SessionConfig):
        def __init__(self, crawler):
            super().__init__(crawler)
            self.tokens: dict[str | None, str] = {}

        def check(self, response, request):
            if is_session_init_request(request):
                token = response.css("#session::text").get()
                if not token:
                    return False
                self.tokens[get_request_session_id(request)] = f"t-{token[:8]}"
            return True

        def process_request(self, request):
            token = self.tokens[get_request_session_id(request)]
            return request.replace(url=f"{request.url}&token={token}")

    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=2),
        spider_with([Request(f"https://shop.example/?page={n}") for n in range(4)]),
    )
    responses = spider_of(crawler).responses
    assert len(responses) == 4
    for response in responses:
        session_id = session_id_of(response)
        assert session_id is not None
        assert response.url.endswith(f"&token=t-{session_id[:8]}")
    assert session_stats(crawler) == {
        "init/check-passed": 2,
        "use/check-passed": 4,
    }


@deferred_f_from_coro_f
async def test_location_config_hooks_run_only_for_requests_with_a_location(zyte_api):
    calls: list[str] = []

    @session_config("shop.example")
    class ShopLocationConfig(LocationSessionConfig):
        def location_params(
            self, request: Request, location: dict[str, str]
        ) -> dict[str, Any]:
            calls.append("location_params")
            return {
                "url": "https://shop.example/set-location",
                "browserHtml": True,
                "actions": [{"action": "setLocation", "address": location}],
            }

        def location_check(self, response, request, location):
            calls.append("location_check")
            return super().location_check(response, request, location)

    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_STATS_PER_POOL=True,
            CONCURRENT_REQUESTS=1,
        ),
        spider_with(
            [
                Request(
                    "https://shop.example/1",
                    meta={"zyte_api_session_location": {"postalCode": "10001"}},
                ),
                Request("https://shop.example/2"),
            ]
        ),
    )
    assert session_stats(crawler) == {
        "pools/shop.example@10001/init/check-passed": 1,
        "pools/shop.example@10001/use/check-passed": 1,
        "pools/shop.example/init/check-passed": 1,
        "pools/shop.example/use/check-passed": 1,
    }
    assert calls == ["location_params", "location_check", "location_check"]
    inits = [
        (entry["url"], entry["actions"])
        for entry in zyte_api.state()["log"]
        if entry["created_session"]
    ]
    assert inits == [
        ("https://shop.example/set-location", ["setLocation"]),
        ("https://shop.example/2", []),
    ]
