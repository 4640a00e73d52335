"""Makes scrapy-zyte-api's request fingerprinter see our session pools.

scrapy-zyte-api's fingerprinter adds the session pool of a request to its
fingerprint by asking scrapy-zyte-api's own session middleware, which our
add-on disables. This module hands it our middleware instead, so that two
requests that differ only in their pool are not duplicates, and computes
the pool of a request synchronously, as fingerprinting needs.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from scrapy_session_pools import meta
from scrapy_session_pools.hooks import WouldBlock, run_hook_now
from scrapy_session_pools.pool_registry import parse_pool_value

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapy import Request
    from scrapy.crawler import Crawler

    from scrapy_session_pools.config import SessionConfig

logger = logging.getLogger(__name__)

#: Start of the pool ID, unique to its request, that request fingerprints
#: get when the pool cannot be known synchronously.
UNKNOWN_POOL = "unknown-pool:"


class PoolLookup(Protocol):
    """Anything that can tell the pool ID of a request."""

    def get_pool(self, request: Request) -> str | None:
        """Return the pool ID of *request*, or ``None`` without a session."""


class FingerprintPools:
    """The pool IDs of requests, for their fingerprints.

    Fingerprinting is synchronous and happens before a request reaches the
    downloader, so no pool is created here. An ``async``
    :meth:`SessionConfig.enabled` or :meth:`SessionConfig.pool` that
    finishes without waiting is run to its end; one that waits for something
    makes the fingerprint unique to the request (with a warning), so that no
    request is dropped as a duplicate of a request of another pool.
    """

    def __init__(
        self, crawler: Crawler, config_for: Callable[[Request], SessionConfig]
    ) -> None:
        self._crawler = crawler
        self._config_for = config_for
        self._warned: set[type[SessionConfig]] = set()

    def get_pool(self, request: Request) -> str | None:
        """Return the pool ID of *request*, or ``None`` if it uses no session."""
        if meta.is_session_init_request(request):
            return None
        try:
            config = self._config_for(request)
            if not run_hook_now(
                self._crawler, config, "enabled", request, request=request
            ):
                return None
            value = run_hook_now(
                self._crawler, config, "pool", request, request=request
            )
            return parse_pool_value(value, request)[0]
        except WouldBlock:
            self._warn_blocking(request)
            return f"{UNKNOWN_POOL}{id(request)}"
        except Exception as exception:  # noqa: BLE001
            # The same error stops the crawl when the request is assigned.
            logger.debug(
                "No session pool for the fingerprint of %s: %r", request, exception
            )
            return None

    def _warn_blocking(self, request: Request) -> None:
        config_cls = type(self._config_for(request))
        if config_cls in self._warned:
            return
        self._warned.add(config_cls)
        logger.warning(
            "%s.enabled() or .pool() waits for something, so request "
            "fingerprints cannot include the session pool of its requests; "
            "they are never filtered as duplicates. Make those methods return "
            "without awaiting anything to fix this.",
            config_cls.__qualname__,
            extra={"spider": self._crawler.spider},
        )


def attach_pool_lookup(crawler: Crawler, lookup: PoolLookup) -> bool:
    """Make scrapy-zyte-api's fingerprinter ask *lookup* for session pools.

    Returns ``False`` if the crawler uses another request fingerprinter.
    Logs an error if scrapy-zyte-api's fingerprinter does not take it, since
    requests that differ only in their pool would then be duplicates.
    """
    from scrapy_zyte_api import ScrapyZyteAPIRequestFingerprinter  # noqa: PLC0415

    fingerprinter = getattr(crawler, "request_fingerprinter", None)
    if not isinstance(fingerprinter, ScrapyZyteAPIRequestFingerprinter):
        return False
    # scrapy-zyte-api looks its session middleware up once, lazily, through
    # the cached property "_session_mw" (a private name: the only one we
    # rely on); setting the instance attribute first makes it use our
    # middleware, which has the same get_pool() method.
    vars(fingerprinter)["_session_mw"] = lookup
    if getattr(fingerprinter, "_session_mw", None) is not lookup:
        logger.error(
            "Could not make scrapy-zyte-api's request fingerprinter (%s) use "
            "the session pools of scrapy-session-pools: requests that differ "
            "only in their session pool will be filtered as duplicates. "
            "Please report this, with your scrapy-zyte-api version.",
            type(fingerprinter).__qualname__,
        )
        return False
    return True
