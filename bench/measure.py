"""Figures of a crawl: server-side counts, server CPU, medians and percentiles."""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Return the *pct* percentile of sorted *values* (nearest rank)."""
    if not values:
        return None
    rank = max(1, round(pct / 100 * len(values) + 0.5 - 1e-9))
    return values[min(rank, len(values)) - 1]


def median(values: Sequence[float | None]) -> float | None:
    """Return the median of the values that are not ``None``."""
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def process_cpu_seconds(pid: int) -> float | None:
    """Return the user + system CPU seconds of process *pid* (Linux only)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    # After the command name: state is field 3, utime 14 and stime 15.
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def server_figures(state: dict[str, Any]) -> dict[str, Any]:
    """Return the calls, inits and wasted calls in a server's ``/_state``.

    Calls are the requests the server answered; inits the sessions it
    created (for the gated site, ``/landing`` and login sessions); wasted
    calls the answers with an error status (Zyte API problems such as 520
    or 422, or a 4xx/5xx page of the website).
    """
    log = state.get("log", [])
    return {
        "calls": state["requests"],
        "inits": state["sessions_created"],
        "wasted": sum(1 for entry in log if not 200 <= entry["status"] < 300),
        "statuses": _count(str(entry["status"]) for entry in log),
    }


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


def derived_figures(run: dict[str, Any]) -> dict[str, Any]:
    """Return the figures of a run computed from its crawl and server parts."""
    successes = run["successes"]
    wall = run["wall"]
    figures: dict[str, Any] = {
        "rps": successes / wall if wall > 0 else None,
        "lost": run["planned"] - successes,
        "calls_per_success": run["calls"] / successes if successes else None,
        "pages_per_session": successes / run["inits"] if run["inits"] else None,
    }
    if run.get("server_cpu") is not None and wall > 0:
        figures["server_share"] = run["server_cpu"] / wall
    return figures


def _is_init_outcome(key: str) -> bool:
    if key.startswith("sessions/init/"):
        return True
    return key.startswith("sessions/pools/") and "/init/" in key


def session_figures(run: dict[str, Any], domains: int) -> dict[str, Any]:
    """Return inits per domain, and the inits and evicted pools in the stats.

    ``inits_per_domain`` divides the sessions the server created (``inits``)
    by the number of domains. ``pool_inits`` counts the init outcomes of
    scrapy-session-pools in the Scrapy stats (``sessions/init/check-passed``
    plus every ``sessions/init/*`` failure, or their per-pool versions with
    ``ZYTE_API_SESSION_STATS_PER_POOL``) and ``pools_evicted`` its
    ``sessions/pools-evicted``; both are ``None`` for the alternatives
    without it.
    """
    stats = run["stats"]
    outcomes = [
        value
        for key, value in stats.items()
        if _is_init_outcome(key) and isinstance(value, int)
    ]
    ours = any(key.startswith("sessions/") for key in stats)
    return {
        "pool_inits": sum(outcomes) if ours else None,
        "inits_per_domain": run["inits"] / domains if domains else None,
        "pools_evicted": stats.get("sessions/pools-evicted", 0) if ours else None,
    }


def slow_pool_figures(
    domains: dict[str, dict[str, Any]], *, healthy: str, slow: str
) -> dict[str, Any]:
    """Return the per-pool figures of a slow-pool run (scenario 8).

    *domains* are the per-domain outcomes of the crawl (``planned``, ``ok``,
    ``failed``, ``last``); *healthy* and *slow* name the two domains. A
    domain without planned requests (the slow one in a baseline crawl) gets
    ``None`` figures. ``healthy_rps`` is the healthy pages scraped divided by
    the time of the last one (seconds since ``spider_opened``).
    """
    figures: dict[str, Any] = {}
    for prefix, domain in (("healthy", healthy), ("slow", slow)):
        outcome = domains.get(domain, {})
        figures[f"{prefix}_ok"] = outcome.get("ok")
        figures[f"{prefix}_failed"] = outcome.get("failed")
        figures[f"{prefix}_last"] = outcome.get("last")
    ok, last = figures["healthy_ok"], figures["healthy_last"]
    figures["healthy_rps"] = ok / last if ok and last else None
    return figures
