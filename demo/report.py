"""Printing what a demo crawl did with its session pools."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy_session_pools import SessionControl
from scrapy_session_pools.stats import PREFIX

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

_BAD_INITS = (
    "init/check-failed",
    "init/check-error",
    "init/param-error",
    "init/failed",
)
_COLUMNS = (
    ("responses ok", ("use/check-passed",)),
    ("banned", ("use/failed", "use/blocked")),
    ("expired", ("use/expired",)),
    ("rate-limited", ("use/rate-limited",)),
    ("failed checks", ("use/check-failed", "use/check-error")),
)


def _pool_stats(crawler: Crawler) -> dict[str, dict[str, Any]]:
    assert crawler.stats is not None
    pools: dict[str, dict[str, Any]] = {}
    pool_prefix = f"{PREFIX}pools/"
    for key, value in crawler.stats.get_stats().items():
        if key.startswith(pool_prefix):
            pool, _, name = key[len(pool_prefix) :].partition("/")
            pools.setdefault(pool, {})[name] = value
    return pools


def pool_table(crawler: Crawler) -> list[tuple[str, ...]]:
    """Return a header row and one row of figures per pool."""
    rows: list[tuple[str, ...]] = [
        (
            "pool",
            "created",
            "bad inits",
            *(name for name, _ in _COLUMNS),
            "retired",
            "learned limits",
        )
    ]
    for pool, figures in sorted(_pool_stats(crawler).items()):
        retired = {
            name.removeprefix("retired/"): count
            for name, count in figures.items()
            if name.startswith("retired/")
        }
        rows.append(
            (
                pool,
                str(figures.get("init/check-passed", 0)),
                str(sum(figures.get(name, 0) for name in _BAD_INITS)),
                *(str(sum(figures.get(n, 0) for n in names)) for _, names in _COLUMNS),
                ", ".join(f"{n} {r}" for r, n in sorted(retired.items())) or "-",
                _learned(figures),
            )
        )
    return rows


def _learned(figures: dict[str, Any]) -> str:
    """Return the limits a pool learned (see docs: learned limits), or "-"."""
    learned = []
    if "learned/max-uses" in figures:
        learned.append(f"{figures['learned/max-uses']} uses")
    if "learned/max-age" in figures:
        learned.append(f"{figures['learned/max-age']:.1f} s")
    return ", ".join(learned) or "-"


def print_report(title: str, crawler: Crawler, pages: int, api_calls: int) -> None:
    """Print the per-pool table, session totals and the close reason."""
    assert crawler.stats is not None
    rows = pool_table(crawler)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print()
    print(title)
    print("=" * len(title))
    for index, row in enumerate(rows):
        cells = zip(row, widths, strict=True)
        print("  " + "  ".join(cell.ljust(width) for cell, width in cells))
        if index == 0:
            print("  " + "  ".join("-" * width for width in widths))
    pools = SessionControl.from_crawler(crawler).pools()
    retired = sum(sum(pool.retired.values()) for pool in pools)
    items = crawler.stats.get_value("item_scraped_count", 0)
    print()
    print(f"  Sessions created:  {sum(pool.created for pool in pools)}")
    print(f"  Sessions replaced: {retired} (reasons in the table)")
    print(f"  Pages scraped:     {items} of {pages}")
    print(f"  Server requests:   {api_calls}")
    print(f"  Close reason:      {crawler.stats.get_value('finish_reason')}")
