"""Transport faults of the test servers: the ``fault`` and ``fault_times`` knobs.

A request whose URL has ``fault=NAME`` gets that fault instead of its
answer, for the first ``fault_times`` requests to that exact URL (every
request if absent):

``500``
    A ``500 Internal Server Error`` answer with a plain-text body, as a
    failing load balancer sends.
``bad_json``
    A 200 answer whose ``application/json`` body is not valid JSON.
``drop``
    The connection is closed without an answer.

The fake website has only ``drop``: its ``status`` knob already gives any
status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from collections.abc import Collection

    from scrapy_session_pools.testing.knobs import KnobReader

#: Every fault, by knob value.
FAULTS = ("500", "bad_json", "drop")


@dataclass(frozen=True, slots=True)
class FaultKnobs:
    """The ``fault`` and ``fault_times`` knobs of one URL."""

    fault: str | None = None
    times: int | None = None

    @classmethod
    def read(cls, knobs: KnobReader, allowed: Collection[str] = FAULTS) -> FaultKnobs:
        """Read the knobs; an unknown fault is an invalid knob of *knobs*."""
        return cls(knobs.choice("fault", allowed), knobs.count("fault_times"))


@dataclass(slots=True)
class FaultCounts:
    """How many faults each URL got, to stop after ``fault_times``."""

    by_url: dict[str, int] = field(default_factory=dict)

    def due(self, url: str, knobs: FaultKnobs) -> str | None:
        """Return the fault that this request to *url* gets, counting it."""
        if knobs.fault is None:
            return None
        count = self.by_url.get(url, 0)
        if knobs.times is not None and count >= knobs.times:
            return None
        self.by_url[url] = count + 1
        return knobs.fault

    @property
    def total(self) -> int:
        """Return the number of faults answered."""
        return sum(self.by_url.values())


def fault_response(request: web.Request, fault: str) -> web.Response:
    """Return the answer of *fault* to *request* (closing it for ``drop``)."""
    if fault == "500":
        return web.Response(text="500 Internal Server Error", status=500)
    if fault == "bad_json":
        return web.Response(body=b'{"url": ', content_type="application/json")
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=500, text="dropped")
