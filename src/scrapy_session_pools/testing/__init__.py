"""Testing kit: local servers that imitate Zyte API and session-gated websites."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy_session_pools.testing.server import SubprocessServer

if TYPE_CHECKING:
    from scrapy_session_pools.testing.proxy import FakeProxy
    from scrapy_session_pools.testing.site import FakeSite
    from scrapy_session_pools.testing.zyte_api import FakeZyteAPI

__all__ = ["FakeProxy", "FakeSite", "FakeZyteAPI", "SubprocessServer"]


def __getattr__(name: str) -> Any:
    # Server modules are imported on first use, not with this package:
    # ``python -m scrapy_session_pools.testing.zyte_api`` would otherwise find
    # its module already imported and warn (RuntimeWarning from runpy).
    if name == "FakeZyteAPI":
        from scrapy_session_pools.testing.zyte_api import FakeZyteAPI  # noqa: PLC0415

        return FakeZyteAPI
    if name == "FakeSite":
        from scrapy_session_pools.testing.site import FakeSite  # noqa: PLC0415

        return FakeSite
    if name == "FakeProxy":
        from scrapy_session_pools.testing.proxy import FakeProxy  # noqa: PLC0415

        return FakeProxy
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
