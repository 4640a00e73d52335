"""scrapy-poet: provider requests keep the session meta of the request they serve.

scrapy-poet providers (e.g. scrapy-zyte-api's ``ZyteApiProvider``) download
a new request for the URL of the request they serve, while its response is
being processed further (by scrapy-poet's ``InjectionMiddleware``), without
its meta: such a request must use the same kind of session (pool, location,
init parameters). scrapy-poet's ``DummyResponse`` is never checked.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

from scrapy_session_pools import meta

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.http import Response

try:
    from scrapy_poet.api import DummyResponse
except ImportError:  # pragma: no cover - scrapy-poet is optional
    DummyResponse = None  # type: ignore[assignment,misc]  # no scrapy-poet

#: The request whose response is being processed in the current task.
_served_request: ContextVar[Request | None] = ContextVar(
    "_served_request", default=None
)


def is_dummy_response(response: Response) -> bool:
    """Whether *response* is scrapy-poet's placeholder, never downloaded."""
    return DummyResponse is not None and isinstance(response, DummyResponse)


def serve(request: Request) -> None:
    """Record that requests sent from now on in this task serve *request*."""
    _served_request.set(request)


def inherit_session_meta(request: Request) -> None:
    """Give *request*, if sent for the request being served, its session meta."""
    served = _served_request.get()
    if served is None or served is request or served.url != request.url:
        return
    for key in meta.SESSION_META_KEYS:
        if key in served.meta and key not in request.meta:
            request.meta[key] = served.meta[key]
