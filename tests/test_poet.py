"""scrapy-poet: provider requests use the session meta of the request they serve."""

from __future__ import annotations

from typing import Any

import pytest
from parsel import Selector
from scrapy import Request
from scrapy.http import Response  # noqa: TC002  # scrapy-poet reads annotations
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy_poet.api import DummyResponse  # noqa: TC002  # same
from web_poet import BrowserResponse  # noqa: TC002  # same

from .helpers import RecordingSpider, run_crawl, session_stats, zyte_api_settings

LOCATION = {"postalCode": "10001"}


class PageOnlySpider(RecordingSpider):
    start_requests_list = [
        Request("https://example.com/", meta={"zyte_api_session_location": LOCATION})
    ]

    async def start(self):
        for request in self.start_requests_list:
            yield request.replace(callback=self.parse_page)

    def parse_page(self, response: DummyResponse, page: BrowserResponse) -> None:
        self.responses.append(response)
        self.pages = [*getattr(self, "pages", []), page]


class ResponseAndPageSpider(PageOnlySpider):
    def parse_page(self, response: Response, page: BrowserResponse) -> None:
        self.responses.append(response)
        self.pages = [*getattr(self, "pages", []), page]


def poet_settings(zyte_api: Any) -> dict[str, Any]:
    return zyte_api_settings(
        zyte_api,
        ADDONS={
            "scrapy_poet.Addon": 300,
            "scrapy_zyte_api.Addon": 500,
            "scrapy_session_pools.Addon": 510,
        },
        ZYTE_API_SESSION_POOL_SIZE=1,
        ZYTE_API_SESSION_STATS_PER_POOL=True,
    )


@pytest.mark.parametrize(
    ("spider_cls", "uses"),
    [
        pytest.param(PageOnlySpider, 1, id="page-object-only"),
        pytest.param(ResponseAndPageSpider, 2, id="response-and-page-object"),
    ],
)
@deferred_f_from_coro_f
async def test_provider_requests_use_the_location_of_the_served_request(
    zyte_api, spider_cls, uses
):
    crawler = await run_crawl(poet_settings(zyte_api), spider_cls)
    assert session_stats(crawler) == {
        "pools/example.com@10001/init/check-passed": 1,
        "pools/example.com@10001/use/check-passed": uses,
    }
    state = zyte_api.state()
    [live] = state["live_sessions"].values()
    assert live["location"] == LOCATION
    spider = crawler.spider
    assert isinstance(spider, PageOnlySpider)
    [page] = spider.pages
    page_location = Selector(text=page.html).css("#location::text").get()
    assert page_location == '{"postalCode": "10001"}'
