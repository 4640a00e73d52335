"""@session_config: which config a request gets (real crawls and unit)."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import pytest
from scrapy import Request
from scrapy.utils.defer import deferred_f_from_coro_f

from scrapy_session_pools import SessionConfig, session_config, session_config_registry

from .helpers import (
    http_settings,
    run_crawl,
    session_stats,
    spider_with,
    zyte_api_settings,
)


class PoolNamedAfterConfig(SessionConfig):
    """Puts each request in a pool named after the config class."""

    def pool(self, request: Request) -> str:
        return type(self).__name__


def config_of(url: str) -> type[SessionConfig]:
    return session_config_registry.session_config_cls(Request(url))


def test_default_rule_maps_every_url_to_session_config():
    assert config_of("https://anything.example/path") is SessionConfig


def test_include_and_exclude_patterns_select_urls():
    @session_config(
        ["shop.example", "books.example/catalogue"], exclude="shop.example/admin"
    )
    class ShopConfig(SessionConfig):
        pass

    assert config_of("https://shop.example/p/1") is ShopConfig
    assert config_of("https://www.shop.example/p/1") is ShopConfig
    assert config_of("https://shop.example/admin/users") is SessionConfig
    assert config_of("https://books.example/catalogue/2") is ShopConfig
    assert config_of("https://books.example/about") is SessionConfig


def test_higher_priority_wins_for_the_same_url():
    @session_config("shop.example", priority=600)
    class High(SessionConfig):
        pass

    @session_config("shop.example")
    class Low(SessionConfig):
        pass

    assert config_of("https://shop.example/") is High


def test_instead_of_chains_are_followed():
    @session_config("shop.example")
    class Base(SessionConfig):
        pass

    @session_config("shop.example", instead_of=Base)
    class Override(Base):
        pass

    assert config_of("https://shop.example/") is Override


def test_instead_of_cycles_raise_instead_of_looping():
    class A(SessionConfig):
        pass

    class B(SessionConfig):
        pass

    session_config("shop.example")(A)
    session_config("shop.example", instead_of=A)(B)
    session_config("shop.example", instead_of=B)(A)
    with pytest.raises(ValueError, match="cycle"):
        config_of("https://shop.example/")


@deferred_f_from_coro_f
async def test_each_website_uses_its_registered_config_built_once(zyte_api):
    built: list[type] = []

    @session_config("a.example")
    class AConfig(PoolNamedAfterConfig):
        def __init__(self, crawler):
            super().__init__(crawler)
            built.append(type(self))

    @session_config("b.example")
    class BConfig(PoolNamedAfterConfig):
        def __init__(self, crawler):
            super().__init__(crawler)
            built.append(type(self))

    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api, ZYTE_API_SESSION_POOL_SIZE=1, ZYTE_API_SESSION_STATS_PER_POOL=True
        ),
        spider_with(
            [
                Request("https://a.example/1"),
                Request("https://a.example/2"),
                Request("https://b.example/1"),
                Request("https://c.example/1"),
            ]
        ),
    )
    assert session_stats(crawler) == {
        "pools/AConfig/init/check-passed": 1,
        "pools/AConfig/use/check-passed": 2,
        "pools/BConfig/init/check-passed": 1,
        "pools/BConfig/use/check-passed": 1,
        "pools/c.example/init/check-passed": 1,
        "pools/c.example/use/check-passed": 1,
    }
    assert sorted(cls.__name__ for cls in built) == ["AConfig", "BConfig"]


@deferred_f_from_coro_f
async def test_config_is_chosen_from_the_triggering_request_not_the_init_url(
    zyte_api,
):
    checked: list[str] = []

    @session_config("shop.example")
    class ShopConfig(SessionConfig):
        def params(self, request):
            return {"url": "https://login.example/", "browserHtml": True}

        def check(self, response, request):
            checked.append(request.url)
            return True

    await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=1),
        spider_with([Request("https://shop.example/1")]),
    )
    assert checked == ["https://login.example/", "https://shop.example/1"]


@deferred_f_from_coro_f
async def test_a_pattern_without_the_port_is_reported_at_close(site, caplog):
    host = urlsplit(site.url()).hostname

    @session_config(host)
    class PortlessConfig(SessionConfig):
        pass

    @session_config("never.example")
    class UnusedConfig(SessionConfig):
        pass

    caplog.set_level(logging.INFO)
    await run_crawl(
        http_settings(
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_PARAMS={"url": site.url("/landing")},
        ),
        spider_with([Request(site.url("/page/1"))]),
    )
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    [warning] = [r for r in warnings if "PortlessConfig" in r.getMessage()]
    assert "The port is part of a pattern" in warning.getMessage()
    assert repr([host]) in warning.getMessage()
    assert (
        "The session config test_a_pattern_without_the_port_is_reported_at_close."
        "<locals>.UnusedConfig (URL patterns ['never.example']) matched no request."
        in caplog.messages
    )
