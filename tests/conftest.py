from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import pytest

from scrapy_session_pools import session_config_registry
from scrapy_session_pools.testing import FakeZyteAPI

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


@pytest.fixture(autouse=True)
def _isolated_session_config_registry() -> Iterator[None]:
    snapshot = copy.deepcopy(vars(session_config_registry))
    try:
        yield
    finally:
        state = vars(session_config_registry)
        state.clear()
        state.update(snapshot)
