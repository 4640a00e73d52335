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
