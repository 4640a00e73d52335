"""ConfigLookup: the session config instance of each request of a crawl."""

from __future__ import annotations

from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from scrapy.utils.misc import build_from_crawler

from .registry import ConfigUsage, session_config_registry

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

    from .config import SessionConfig


class ConfigLookup:
    """Finds the session config of a request by URL, once per request object.

    Each config class gets one instance per crawler (built with
    ``from_crawler`` if it has one); the URL-pattern lookup runs once per
    request object (fingerprinting, assignment and checks all ask).
    """

    def __init__(self, crawler: Crawler) -> None:
        self._crawler = crawler
        self._instances: dict[type[SessionConfig], SessionConfig] = {}
        self._by_request: WeakKeyDictionary[Request, SessionConfig] = (
            WeakKeyDictionary()
        )
        self._usage = ConfigUsage(session_config_registry)

    def config_for(self, request: Request) -> SessionConfig:
        """Return the session config instance for the URL of *request*."""
        config = self._by_request.get(request)
        if config is not None:
            return config
        cls = session_config_registry.session_config_cls(request)
        self._usage.record(request, cls)
        config = self._instances.get(cls)
        if config is None:
            config = self._instances[cls] = build_from_crawler(cls, self._crawler)
        self._by_request[request] = config
        return config

    def report(self) -> None:
        """Log the registered configs that matched no request (the crawl is over)."""
        self._usage.report()
