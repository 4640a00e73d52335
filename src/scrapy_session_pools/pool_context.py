"""What pools share (PoolContext) and keep of a request (RequestTemplate)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy import Request

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .pool import Pool
    from .pool_events import PoolEvents
    from .session import Session

#: Meta keys that Scrapy and the session middlewares set on a request as it
#: goes: a pool's template leaves them out (with every ``_``-prefixed key).
_RUNTIME_META_KEYS = frozenset(
    {
        "autothrottle_dont_adjust_delay",
        "depth",
        "dont_merge_cookies",
        "download_latency",
        "download_slot",
        "download_timeout",
        "is_start_request",
        "redirect_reasons",
        "redirect_times",
        "redirect_ttl",
        "redirect_urls",
        "retry_times",
    }
)


@dataclass(frozen=True, slots=True, eq=False)
class PoolContext:
    """What every pool of a crawl shares.

    *create_session* creates one session of the given pool for the given
    triggering request (it retries internally and raises when the pool
    cannot get one); *events* is told about sessions joining and leaving
    pools and about waiting requests; *jitter* is the magnitude of the
    random variation of the delay; *max_wait* bounds the seconds a request
    waits for a session; a maximum age shorter than *age_timer_horizon* (the
    idle-pool timeout; ``None``: any) retires idle sessions by a timer, so
    that their replacement is ready before the next request (longer ones
    retire when next used: an idle pool is evicted first).
    """

    create_session: Callable[[Pool, Request], Awaitable[Session]]
    events: PoolEvents
    jitter: float
    max_wait: float
    age_timer_horizon: float | None = None


@dataclass(frozen=True, slots=True)
class RequestTemplate:
    """What a pool keeps of the request that triggered its last good init:
    its URL and the meta that hooks may read, not the request itself."""

    url: str
    meta: dict[str, Any] | None

    @classmethod
    def of(cls, request: Request) -> RequestTemplate:
        """Return the template of *request*."""
        kept = {
            key: value
            for key, value in request.meta.items()
            if not key.startswith("_") and key not in _RUNTIME_META_KEYS
        }
        return cls(request.url, kept or None)

    def request(self) -> Request:
        """Return a new request from the template."""
        return Request(self.url, meta=dict(self.meta or {}), dont_filter=True)
