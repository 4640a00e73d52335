r"""Run one bench crawl in this process and print its figures as one JSON line.

``bench.run`` starts it in a fresh subprocess for every measurement, so that
CPU time and peak RSS belong to one crawl::

    python -m bench.crawl_once --scenario overhead --alternative ours \\
        --requests 5000 --server-url http://127.0.0.1:43121

The servers are not started here: ``--server-url`` is the base URL of a
running fake Zyte API (or of the gated website, for the ``http`` scenario).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import resource
import sys
import time
import tracemalloc
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.crawler import AsyncCrawlerProcess

import scrapy_session_pools

from . import middlewares
from .alternatives import crawl_settings, get_alternative
from .measure import percentile
from .scenarios import SCENARIOS
from .spider import BenchSpider, cpu_seconds

if TYPE_CHECKING:
    from collections.abc import Sequence

    from scrapy.crawler import Crawler

#: Where the session code of each alternative lives, to attribute memory.
_SESSION_CODE = {
    "ours": ("*/scrapy_session_pools/*",),
    "zyte": ("*/scrapy_zyte_api/_session.py",),
}
_TRACEMALLOC_FRAMES = 1


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.crawl_once", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    parser.add_argument("--alternative", required=True)
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--server-url", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="an extra setting for the alternatives with sessions on",
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="measure the memory the session code retains when the spider closes",
    )
    parser.add_argument("--profile", metavar="FILE", help="write cProfile stats here")
    return parser.parse_args(argv)


def parse_settings(pairs: Sequence[str]) -> dict[str, Any]:
    """Parse ``NAME=JSON`` pairs (a value that is not JSON is a string)."""
    settings: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"--set expects NAME=JSON, got {pair!r}")
        try:
            settings[name] = json.loads(raw)
        except ValueError:
            settings[name] = raw
    return settings


class RetainedMemory:
    """Measures, when the spider closes, the memory still allocated.

    tracemalloc must be started (one frame is enough) before the crawl.
    The figures, in :attr:`figures`, are the bytes of all live traced
    allocations and those made directly in the session code of the
    alternative (a lower bound of what it retains: e.g. strings made by
    :mod:`uuid` or requests made by Scrapy on its behalf count elsewhere).
    """

    def __init__(self, crawler: Crawler, alternative: str) -> None:
        self._patterns = _SESSION_CODE.get(alternative.partition("-")[0], ())
        self.figures: dict[str, Any] = {}
        # The signal manager keeps weak references: this object must live.
        crawler.signals.connect(self.measure, signal=signals.spider_closed)

    def measure(self) -> None:
        gc.collect()
        snapshot = tracemalloc.take_snapshot()
        total = snapshot.statistics("filename")
        session_bytes = 0
        if self._patterns:
            kept = snapshot.filter_traces(
                [tracemalloc.Filter(True, pattern) for pattern in self._patterns]
                + [tracemalloc.Filter(False, "*/scrapy_session_pools/testing/*")]
            )
            session_bytes = sum(stat.size for stat in kept.statistics("filename"))
        self.figures.update(
            traced_bytes=sum(stat.size for stat in total),
            session_code_bytes=session_bytes,
        )


class GarbageCollectorTimer:
    """Counts the collections of the cyclic garbage collector and their time."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full_collections = 0
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.seconds += time.perf_counter() - self._started
        if info["generation"] == 2:
            self.full_collections += 1


def _stats(crawler: Crawler) -> dict[str, Any]:
    assert crawler.stats is not None
    return {
        key: value
        for key, value in sorted(crawler.stats.get_stats().items())
        if isinstance(value, (int, float, str))
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Run the crawl and print its JSON result line."""
    args = _parse_args(argv)
    scenario = SCENARIOS[args.scenario]
    alternative = get_alternative(scenario, args.alternative)
    if args.tracemalloc:
        tracemalloc.start(_TRACEMALLOC_FRAMES)
    settings = crawl_settings(
        scenario,
        alternative,
        args.server_url,
        seed=args.seed,
        extra=parse_settings(args.set),
    )
    planned = scenario.planned(
        args.server_url,
        args.requests,
        alternative.knobs,
        slow=alternative.slow_pages,
    )
    landing = None
    if scenario.server == "site" and not alternative.sessions:
        landing = f"{args.server_url}/landing"
    process = AsyncCrawlerProcess(settings)
    crawler = process.create_crawler(BenchSpider)
    retained = RetainedMemory(crawler, alternative.name) if args.tracemalloc else None
    by_domain = scenario.slow_every is not None
    process.crawl(crawler, planned=planned, landing_url=landing, by_domain=by_domain)
    collector = GarbageCollectorTimer()
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    process.start()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    spider = crawler.spider
    assert isinstance(spider, BenchSpider)
    waits = sorted(middlewares.WAITS)
    result: dict[str, Any] = {
        "scenario": scenario.name,
        "alternative": alternative.name,
        "package": scrapy_session_pools.__file__,
        "planned": len(planned),
        "successes": spider.successes,
        "failures": dict(spider.failures),
        "wall": spider.closed_at - spider.opened_at,
        "cpu": spider.cpu_closed - spider.cpu_opened,
        "cpu_process": cpu_seconds(),
        "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "gc_seconds": collector.seconds,
        "gc_full_collections": collector.full_collections,
        "stats": _stats(crawler),
    }
    if scenario.wait_stamps:
        result["waits"] = {
            "count": len(waits),
            "p50": percentile(waits, 50),
            "p95": percentile(waits, 95),
            "max": waits[-1] if waits else None,
        }
    if by_domain:
        result["domains"] = spider.domain_figures()
    if retained is not None:
        result["retained"] = retained.figures
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
