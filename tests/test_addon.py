from __future__ import annotations

from typing import Any

import pytest
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.misc import load_object
from scrapy.utils.test import get_crawler
from scrapy_zyte_api import (
    ScrapyZyteAPISessionDownloaderMiddleware,
    ScrapyZyteAPISessionResetterDownloaderMiddleware,
)

from scrapy_session_pools import (
    Addon,
    SessionPoolsMiddleware,
    SessionPoolsResetterMiddleware,
)

from .helpers import run_crawl, session_stats, spider_for, zyte_api_settings


def middleware_priorities(settings: dict[str, Any]) -> dict[type, int | None]:
    crawler = get_crawler(settings_dict=settings)
    return {
        load_object(path): priority
        for path, priority in crawler.settings.getdict("DOWNLOADER_MIDDLEWARES").items()
    }


ORDERS = [
    pytest.param({"scrapy_zyte_api.Addon": 500, Addon: 510}, id="zyte-api-first"),
    pytest.param({Addon: 500, "scrapy_zyte_api.Addon": 510}, id="ours-first"),
    pytest.param({Addon: 500}, id="ours-alone"),
]


@pytest.mark.parametrize("addons", ORDERS)
def test_addon_enables_our_middlewares_and_disables_zyte_api_sessions(addons):
    priorities = middleware_priorities({"ADDONS": addons})
    assert priorities[SessionPoolsMiddleware] == 667
    assert priorities[SessionPoolsResetterMiddleware] == 565
    assert priorities[ScrapyZyteAPISessionDownloaderMiddleware] is None
    assert priorities[ScrapyZyteAPISessionResetterDownloaderMiddleware] is None


def test_addon_keeps_priorities_set_by_the_user():
    priorities = middleware_priorities(
        {
            "ADDONS": {Addon: 500},
            "DOWNLOADER_MIDDLEWARES": {
                "scrapy_session_pools.SessionPoolsMiddleware": 700
            },
        }
    )
    assert priorities[SessionPoolsMiddleware] == 700


def test_addon_disables_zyte_api_session_middleware_set_by_import_path():
    priorities = middleware_priorities(
        {
            "ADDONS": {Addon: 500},
            "DOWNLOADER_MIDDLEWARES": {
                "scrapy_zyte_api.ScrapyZyteAPISessionDownloaderMiddleware": 667
            },
        }
    )
    assert priorities[ScrapyZyteAPISessionDownloaderMiddleware] is None


@pytest.mark.parametrize("addons", ORDERS[:2])
@deferred_f_from_coro_f
async def test_each_request_gets_exactly_one_session(zyte_api, addons):
    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ADDONS=addons, ZYTE_API_SESSION_POOL_SIZE=2),
        spider_for("https://example.com/", requests=4),
    )
    assert session_stats(crawler) == {
        "init/check-passed": 2,
        "use/check-passed": 4,
    }
    stats = crawler.stats.get_stats()
    assert not [key for key in stats if key.startswith("scrapy-zyte-api/sessions")]
    state = zyte_api.state()
    assert state["sessions_created"] == 2
    assert all(entry["session"] for entry in state["log"])
    assert len(state["log"]) == 6
