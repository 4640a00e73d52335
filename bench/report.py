"""Tables of bench results, for the console and for ``bench/RESULTS.rst``.

``python -m bench.report bench/results/*.json --output bench/RESULTS.rst``
renders the latest result file of each scenario as reStructuredText.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .scenarios import SCENARIOS

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

_Column = tuple[str, "Callable[[dict[str, Any]], str]"]


def _number(
    key: str, digits: int = 0, scale: float = 1.0
) -> Callable[[dict[str, Any]], str]:
    def cell(row: dict[str, Any]) -> str:
        value = row.get(key)
        if value is None:
            return "-"
        return f"{value * scale:,.{digits}f}"

    return cell


def _ratio(key: str) -> Callable[[dict[str, Any]], str]:
    def cell(row: dict[str, Any]) -> str:
        value = row.get(key)
        return "-" if value is None else f"{value:.2f}x"

    return cell


_COLUMNS: list[_Column] = [
    ("alternative", lambda row: row["alternative"]),
    ("wall s", _number("wall", 2)),
    ("ok/s", _number("rps", 0)),
    ("vs off", _ratio("vs_off")),
    ("vs zyte", _ratio("vs_zyte")),
    ("CPU s", _number("cpu", 2)),
    ("GC s", _number("gc_seconds", 2)),
    ("RSS MB", _number("rss_kb", 0, 1 / 1024)),
    ("calls", _number("calls", 0)),
    ("inits", _number("inits", 0)),
    ("wasted", _number("wasted", 0)),
    ("lost", _number("lost", 0)),
    ("calls/ok", _number("calls_per_success", 3)),
    ("server CPU", _number("server_share", 0, 100)),
]
_EXTRA_COLUMNS: dict[str, list[_Column]] = {
    "contention": [
        ("wait p50 s", _number("wait_p50", 3)),
        ("wait p95 s", _number("wait_p95", 3)),
        ("wait max s", _number("wait_max", 3)),
    ],
    "scale": [
        ("KB/pool", _number("retained_per_pool", 2, 1 / 1024)),
        ("in code KB/pool", _number("session_code_per_pool", 2, 1 / 1024)),
        ("RSS KB/pool", _number("rss_delta_per_pool", 2)),
    ],
    "http": [("pages/session", _number("pages_per_session", 1))],
    "soak": [
        ("pool inits", _number("pool_inits", 0)),
        ("inits/domain", _number("inits_per_domain", 3)),
        ("evicted", _number("pools_evicted", 0)),
    ],
    "slow-pool": [
        ("healthy ok", _number("healthy_ok", 0)),
        ("healthy failed", _number("healthy_failed", 0)),
        ("slow ok", _number("slow_ok", 0)),
        ("slow failed", _number("slow_failed", 0)),
        ("last healthy s", _number("healthy_last", 2)),
        ("last slow s", _number("slow_last", 2)),
        ("healthy ok/s", _number("healthy_rps", 0)),
        ("vs alone", _ratio("vs_alone")),
        ("vs zyte-alone", _ratio("vs_zyte_alone")),
    ],
}


def table(scenario: str, rows: list[dict[str, Any]]) -> list[str]:
    """Return the lines of a reStructuredText simple table of *rows*."""
    columns = _COLUMNS + _EXTRA_COLUMNS.get(scenario, [])
    cells = [[name for name, _ in columns]]
    cells += [[render(row) for _, render in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    rule = "  ".join("=" * width for width in widths)

    def line(values: list[str]) -> str:
        first = values[0].ljust(widths[0])
        rest = (
            value.rjust(width)
            for value, width in zip(values[1:], widths[1:], strict=True)
        )
        return "  ".join([first, *rest]).rstrip()

    return [rule, line(cells[0]), rule, *(line(row) for row in cells[1:]), rule]


def notes(result: dict[str, Any]) -> list[str]:
    """Return remarks on a result: failures, errors, close reasons."""
    lines = []
    for row in result["summary"]:
        failures = row.get("failures") or {}
        if failures:
            described = ", ".join(f"{name} {count}" for name, count in failures.items())
            lines.append(
                f"{row['alternative']}: failed requests (all rounds): {described}"
            )
        reasons = set(row.get("finish_reasons", ()))
        if reasons - {"finished"}:
            lines.append(f"{row['alternative']}: finish reasons {sorted(reasons)}")
    return lines


def render_result(result: dict[str, Any]) -> list[str]:
    """Return the reStructuredText section of one result file."""
    scenario = SCENARIOS[result["scenario"]]
    config = result["config"]
    title = scenario.title
    lines = [title, "-" * len(title), "", scenario.measures, "", "Command::", ""]
    lines += [f"    {result['command']}", ""]
    lines.append(
        f"{config['requests']} requests, {config['domains']} domain(s), "
        f"{config['rounds']} round(s), medians; ratios are medians of "
        f"per-round ratios. Run on {result['started']}."
    )
    lines.append("")
    lines += table(result["scenario"], result["summary"])
    extra = notes(result)
    if extra:
        lines += ["", *(f"- {note}" for note in extra)]
    lines.append("")
    return lines


def _latest(paths: Sequence[Path]) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for path in sorted(paths):
        result = json.loads(path.read_text())
        if "summary" not in result:
            continue
        current = latest.get(result["scenario"])
        if current is None or result["started"] >= current["started"]:
            latest[result["scenario"]] = result
    return latest


def main(argv: Sequence[str] | None = None) -> None:
    """Render the latest result of each scenario as reStructuredText."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.report", description=__doc__.splitlines()[0]
    )
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--preamble", type=Path, help="text to put first")
    args = parser.parse_args(argv)
    latest = _latest(args.files)
    lines: list[str] = []
    if args.preamble is not None:
        lines += [*args.preamble.read_text().splitlines(), ""]
    for name in SCENARIOS:
        if name in latest:
            lines += render_result(latest[name])
    text = "\n".join(lines).rstrip() + "\n"
    if args.output is None:
        print(text, end="")
    else:
        args.output.write_text(text)


if __name__ == "__main__":
    main()
