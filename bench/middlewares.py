"""Bench-only downloader middlewares: fault injection and wait stamps.

They are registered only by bench crawls (see :mod:`bench.alternatives`),
the same way for scrapy-zyte-api and for scrapy-session-pools.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from typing_extensions import Self

#: The request meta key that both session managers set on init requests.
INIT_META_KEY = "_is_session_init_request"
_ORIGINAL_URL = "_bench_original_url"
_WAIT_START = "_bench_wait_start"
_BAN_KNOB = "error=520"

#: Seconds each request (attempt) spent between the two wait-stamp
#: middlewares, i.e. in the session middleware. One crawl runs per process.
WAITS: list[float] = []


def _is_init(request: Request) -> bool:
    return request.meta.get(INIT_META_KEY) is True


def _with_knobs(url: str, knobs: list[str]) -> str:
    if not knobs:
        return url
    separator = "&" if "?" in url else "?"
    return url + separator + "&".join(knobs)


def _without_ban(url: str) -> str:
    return url.replace(f"&{_BAN_KNOB}", "")


class FaultInjectionMiddleware:
    """Emulates the faults of scenario 3 that the fake Zyte API has no knob for.

    It runs after the session middlewares (priority 700) and changes the
    target URL of a request in place, just before the download handler turns
    it into a Zyte API request:

    -   A share of the requests that use a session (``BENCH_BAN_RATE``) get
        ``error=520``: the fake API answers 520 (a ban) for that attempt. The
        choice is pseudo-random, seeded by ``BENCH_SEED``, the URL and the
        retry count, so it is the same for every alternative, and a retry of
        the request is drawn again. The URL is restored when the answer (or
        error) comes back, before the session and retry middlewares see it.
    -   Session init requests get ``delay=<BENCH_INIT_DELAY>`` (extra latency)
        and, for a share of them (``BENCH_SET_LOCATION_FAIL_RATE``, a seeded
        sequence), ``set_location=fail``. They never get ``error=520``.
    """

    def __init__(
        self,
        ban_rate: float,
        set_location_fail_rate: float,
        init_delay: float,
        seed: int,
    ) -> None:
        self._ban_rate = ban_rate
        self._set_location_fail_rate = set_location_fail_rate
        self._init_delay = init_delay
        self._seed = seed
        self._init_rng = random.Random(seed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        return cls(
            settings.getfloat("BENCH_BAN_RATE"),
            settings.getfloat("BENCH_SET_LOCATION_FAIL_RATE"),
            settings.getfloat("BENCH_INIT_DELAY"),
            settings.getint("BENCH_SEED"),
        )

    def process_request(self, request: Request) -> None:
        url = _without_ban(request.url)
        if _is_init(request):
            knobs = []
            if self._init_delay:
                knobs.append(f"delay={self._init_delay:g}")
            if self._init_rng.random() < self._set_location_fail_rate:
                knobs.append("set_location=fail")
            request._set_url(_with_knobs(url, knobs))
            return
        attempt = request.meta.get("retry_times", 0)
        draw = random.Random(f"{self._seed}|{url}|{attempt}").random()
        if draw < self._ban_rate:
            request.meta[_ORIGINAL_URL] = url
            request._set_url(_with_knobs(url, [_BAN_KNOB]))

    def process_response(self, request: Request, response: Response) -> Response:
        self._restore(request)
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        self._restore(request)

    def _restore(self, request: Request) -> None:
        url = request.meta.pop(_ORIGINAL_URL, None)
        if url is not None:
            request._set_url(url)


class WaitStartMiddleware:
    """Stamps requests before the session middleware (priority 660)."""

    def process_request(self, request: Request) -> None:
        if not _is_init(request):
            request.meta[_WAIT_START] = time.monotonic()


class WaitEndMiddleware:
    """Records how long requests took to pass the session middleware (670)."""

    def process_request(self, request: Request) -> None:
        start = request.meta.pop(_WAIT_START, None)
        if start is not None:
            WAITS.append(time.monotonic() - start)
