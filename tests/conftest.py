from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest

from scrapy_session_pools import session_config_registry
from scrapy_session_pools.testing import FakeProxy, FakeSite, FakeZyteAPI

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="session")
def _zyte_api_server() -> Iterator[FakeZyteAPI]:
    with FakeZyteAPI() as server:
        yield server


@pytest.fixture
def zyte_api(_zyte_api_server: FakeZyteAPI) -> FakeZyteAPI:
    """The fake Zyte API, reset to a clean state for the test."""
    _zyte_api_server.reset()
    return _zyte_api_server


@pytest.fixture(scope="session")
def _site_server() -> Iterator[FakeSite]:
    with FakeSite() as server:
        yield server


@pytest.fixture
def site(_site_server: FakeSite) -> FakeSite:
    """The session-gated test website, reset to a clean state for the test."""
    _site_server.reset()
    return _site_server


@pytest.fixture(scope="session")
def _proxy_servers() -> Iterator[list[FakeProxy]]:
    proxies = [
        FakeProxy("p1", auth="user1:secret1"),
        FakeProxy("p2", auth="user2:secret2"),
        FakeProxy("p3"),
        FakeProxy("p4"),
    ]
    try:
        for proxy in proxies:
            proxy.start()
        yield proxies
    finally:
        for proxy in proxies:
            proxy.stop()


@pytest.fixture
def proxies(_proxy_servers: list[FakeProxy]) -> list[FakeProxy]:
    """Four local forward proxies (p1 and p2 need credentials), reset."""
    for proxy in _proxy_servers:
        proxy.reset()
    return _proxy_servers


@contextmanager
def isolated_registry(registry: object) -> Iterator[None]:
    """Restore the rules of *registry* (a web-poet registry) afterwards."""
    snapshot = copy.deepcopy(vars(registry))
    try:
        yield
    finally:
        state = vars(registry)
        state.clear()
        state.update(snapshot)


@pytest.fixture(autouse=True)
def _isolated_session_config_registry() -> Iterator[None]:
    with isolated_registry(session_config_registry):
        yield
