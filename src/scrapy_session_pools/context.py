"""SessionContext: what the parts of the session manager of a crawl share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from .backends import Backends
    from .settings import PoolsSettings
    from .stats import SessionStats


@dataclass(frozen=True, slots=True)
class SessionContext:
    """The crawler, the validated settings, the stats and the backends.

    The session manager builds one per crawl and hands it to the parts that
    need all four (initializer, judge, pool resolver, maintenance).
    """

    crawler: Crawler
    settings: PoolsSettings
    stats: SessionStats
    backends: Backends


class UsesContext:
    """Base of the parts built from a :class:`SessionContext`."""

    __slots__ = ()

    _context: SessionContext

    @property
    def _crawler(self) -> Crawler:
        return self._context.crawler

    @property
    def _settings(self) -> PoolsSettings:
        return self._context.settings

    @property
    def _stats(self) -> SessionStats:
        return self._context.stats

    @property
    def _backends(self) -> Backends:
        return self._context.backends
