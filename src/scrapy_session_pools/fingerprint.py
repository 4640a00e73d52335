"""Makes scrapy-zyte-api's request fingerprinter see our session pools.

scrapy-zyte-api's fingerprinter adds the session pool of a request to its
fingerprint by asking scrapy-zyte-api's own session middleware, which our
add-on disables. This module hands it our middleware instead, so that two
requests that differ only in their pool are not duplicates.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class PoolLookup(Protocol):
    """Anything that can tell the pool ID of a request."""

    def get_pool(self, request: Request) -> str | None:
        """Return the pool ID of *request*, or ``None`` without a session."""


def attach_pool_lookup(crawler: Crawler, lookup: PoolLookup) -> bool:
    """Make scrapy-zyte-api's fingerprinter ask *lookup* for session pools.

    Returns ``False`` if the crawler uses another request fingerprinter.
    """
    try:
        from scrapy_zyte_api import ScrapyZyteAPIRequestFingerprinter  # noqa: PLC0415
    except ImportError:  # pragma: no cover - scrapy-zyte-api is a dependency
        return False
    fingerprinter = getattr(crawler, "request_fingerprinter", None)
    if ScrapyZyteAPIRequestFingerprinter is None or not isinstance(
        fingerprinter, ScrapyZyteAPIRequestFingerprinter
    ):
        return False
    # scrapy-zyte-api looks its session middleware up once, lazily, through
    # the cached property "_session_mw"; setting the instance attribute first
    # makes it use our middleware, which has the same get_pool() method.
    vars(fingerprinter)["_session_mw"] = lookup
    return True
