"""Run a bench scenario: alternatives round-robin, one subprocess per crawl.

::

    python -m bench.run overhead [--rounds 3] [--requests 5000]
    python -m bench.run realistic --profile ours

See ``bench/README.rst`` for the scenarios and how to read the output.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pstats
import shlex
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy_session_pools.testing import FakeSite, FakeZyteAPI

from .alternatives import ALTERNATIVES
from .measure import (
    derived_figures,
    median,
    process_cpu_seconds,
    server_figures,
    session_figures,
    slow_pool_figures,
)
from .report import notes, table
from .scenarios import HEALTHY_DOMAIN, SCENARIOS, SLOW_DOMAIN, Scenario

if TYPE_CHECKING:
    from collections.abc import Sequence

    from scrapy_session_pools.testing import SubprocessServer

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
_CRAWL_TIMEOUT = 1800
_MEDIAN_KEYS = (
    "wall",
    "rps",
    "cpu",
    "gc_seconds",
    "rss_kb",
    "calls",
    "inits",
    "wasted",
    "lost",
    "calls_per_success",
    "pages_per_session",
    "server_share",
    "wait_p50",
    "wait_p95",
    "wait_max",
    "pool_inits",
    "inits_per_domain",
    "pools_evicted",
    "healthy_ok",
    "healthy_failed",
    "slow_ok",
    "slow_failed",
    "healthy_last",
    "slow_last",
    "healthy_rps",
)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.splitlines()[0]
    )
    parser.add_argument("scenario", choices=[*SCENARIOS, "all"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--requests", type=int, help="requests per crawl (default: the scenario's)"
    )
    parser.add_argument(
        "--alternatives",
        help="comma-separated alternatives to run (default: all of the scenario)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="an extra setting for every alternative with sessions on",
    )
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the tracemalloc crawls"
    )
    parser.add_argument(
        "--profile",
        metavar="ALTERNATIVE",
        help="instead of measuring, profile one crawl of ALTERNATIVE (cProfile)",
    )
    return parser.parse_args(argv)


def _start_server(scenario: Scenario, stack: ExitStack) -> SubprocessServer:
    if scenario.server == "site":
        return stack.enter_context(FakeSite())
    return stack.enter_context(FakeZyteAPI(**scenario.server_options))


def _server_pid(server: SubprocessServer) -> int | None:
    process = getattr(server, "_process", None)
    return None if process is None else int(process.pid)


def _crawl_command(
    scenario: Scenario,
    alternative: str,
    requests: int,
    server: SubprocessServer,
    args: argparse.Namespace,
    *extra: str,
) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "bench.crawl_once",
        "--scenario",
        scenario.name,
        "--alternative",
        alternative,
        "--requests",
        str(requests),
        "--server-url",
        server.url(),
        "--seed",
        str(args.seed),
    ]
    for pair in args.set:
        command += ["--set", pair]
    return command + list(extra)


def _pythonpath() -> str:
    """Return the PYTHONPATH of a crawl: the repository, then the caller's.

    A PYTHONPATH set by the caller is kept (after the repository root), so
    that e.g. ``PYTHONPATH=/tmp/before/src`` measures another checkout of
    the package with this harness.
    """
    inherited = os.environ.get("PYTHONPATH")
    return os.pathsep.join([str(ROOT), *([inherited] if inherited else [])])


def _run_crawl(command: list[str]) -> dict[str, Any]:
    completed = subprocess.run(  # noqa: PLW1510
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=_CRAWL_TIMEOUT,
        env={**os.environ, "PYTHONPATH": _pythonpath()},
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(
            f"Crawl failed (exit code {completed.returncode}): "
            f"{shlex.join(command)}\n{completed.stderr[-4000:]}"
        )
    result: dict[str, Any] = json.loads(lines[-1])
    result["error_lines"] = completed.stderr.count("\n")
    result["stderr_tail"] = completed.stderr[-1500:]
    return result


def measure_once(
    scenario: Scenario,
    alternative: str,
    requests: int,
    server: SubprocessServer,
    args: argparse.Namespace,
    *extra: str,
) -> dict[str, Any]:
    """Run one crawl of *alternative* against a freshly reset server."""
    server.reset()
    pid = _server_pid(server)
    cpu_before = process_cpu_seconds(pid) if pid is not None else None
    run = _run_crawl(
        _crawl_command(scenario, alternative, requests, server, args, *extra)
    )
    cpu_after = process_cpu_seconds(pid) if pid is not None else None
    run["server_cpu"] = (
        cpu_after - cpu_before
        if cpu_before is not None and cpu_after is not None
        else None
    )
    run.update(server_figures(server.state()))
    run.update(derived_figures(run))
    run.update(session_figures(run, scenario.domain_count(requests)))
    waits = run.get("waits")
    if waits:
        run.update(wait_p50=waits["p50"], wait_p95=waits["p95"], wait_max=waits["max"])
    domains = run.get("domains")
    if domains is not None:
        run.update(slow_pool_figures(domains, healthy=HEALTHY_DOMAIN, slow=SLOW_DOMAIN))
    return run


def _paired_ratio(
    runs: list[dict[str, Any]], alternative: str, baseline: str, key: str = "rps"
) -> float | None:
    """Return the median over rounds of *key* of *alternative* / *baseline*."""
    by_round: dict[int, dict[str, float]] = {}
    for run in runs:
        if run.get(key):
            by_round.setdefault(run["round"], {})[run["alternative"]] = run[key]
    ratios = [
        values[alternative] / values[baseline]
        for values in by_round.values()
        if alternative in values and baseline in values
    ]
    return median(ratios)


def summarize(
    runs: list[dict[str, Any]], alternatives: Sequence[str]
) -> list[dict[str, Any]]:
    """Return one row of medians and ratios per alternative."""
    rows = []
    for alternative in alternatives:
        own = [run for run in runs if run["alternative"] == alternative]
        row: dict[str, Any] = {"alternative": alternative, "runs": len(own)}
        for key in _MEDIAN_KEYS:
            row[key] = median([run.get(key) for run in own])
        row["vs_off"] = _paired_ratio(runs, alternative, "off")
        row["vs_zyte"] = _paired_ratio(runs, alternative, "zyte")
        row["vs_alone"] = _paired_ratio(runs, alternative, "alone", "healthy_rps")
        row["vs_zyte_alone"] = _paired_ratio(
            runs, alternative, "zyte-alone", "healthy_rps"
        )
        failures: dict[str, int] = {}
        for run in own:
            for name, count in run["failures"].items():
                failures[name] = failures.get(name, 0) + count
        row["failures"] = failures
        row["finish_reasons"] = sorted(
            {run["stats"].get("finish_reason", "?") for run in own}
        )
        rows.append(row)
    return rows


def _memory(
    scenario: Scenario,
    server: SubprocessServer,
    args: argparse.Namespace,
    *,
    requests: int,
    rows: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Run two tracemalloc crawls per alternative; add per-pool figures to *rows*.

    The crawls have *requests* and half as many requests: the memory that
    each extra pool adds (the difference divided by the extra pools) leaves
    out what a crawl keeps whatever its number of pools (imported modules,
    settings). What Scrapy itself keeps per website, measured the same way
    with sessions off, is subtracted.
    """
    half = max(1, requests // 2)
    extra_pools = scenario.domain_count(requests) - scenario.domain_count(half)
    memory_runs = []
    slopes: dict[str, dict[str, float]] = {}
    for alternative in (row["alternative"] for row in rows):
        print(f"  memory: {alternative} (tracemalloc, 2 crawls) ...", flush=True)
        pair = []
        for count in (half, requests):
            run = measure_once(
                scenario, alternative, count, server, args, "--tracemalloc"
            )
            run["pools"] = scenario.domain_count(count)
            memory_runs.append(run)
            pair.append(run.get("retained", {}))
        if all(pair) and extra_pools > 0:
            slopes[alternative] = {
                key: (pair[1][key] - pair[0][key]) / extra_pools
                for key in ("traced_bytes", "session_code_bytes")
            }
    by_name = {row["alternative"]: row for row in rows}
    off = slopes.get("off")
    pools = scenario.domain_count(requests)
    off_rss = by_name["off"]["rss_kb"] if "off" in by_name else None
    for name, slope in slopes.items():
        row = by_name[name]
        if off is not None:
            row["retained_per_pool"] = slope["traced_bytes"] - off["traced_bytes"]
        row["session_code_per_pool"] = slope["session_code_bytes"]
        if off_rss is not None and row["rss_kb"] is not None:
            row["rss_delta_per_pool"] = (row["rss_kb"] - off_rss) / pools
    return memory_runs


def _print_progress(run: dict[str, Any]) -> None:
    rps = run.get("rps") or 0.0
    line = (
        f"  round {run['round'] + 1} {run['alternative']:<13} "
        f"wall {run['wall']:7.2f} s  {rps:7.1f} ok/s  calls {run['calls']:>6}  "
        f"lost {run['lost']:>4}  server CPU {run.get('server_share') or 0:.0%}"
    )
    if run.get("domains") is not None:
        line += "  last healthy " + _seconds(run.get("healthy_last"))
        line += "  last slow " + _seconds(run.get("slow_last"))
    print(line, flush=True)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def run_scenario(scenario: Scenario, args: argparse.Namespace) -> dict[str, Any]:
    """Measure every alternative of *scenario* and return the result."""
    requests = args.requests or scenario.requests
    alternatives = (
        args.alternatives.split(",") if args.alternatives else scenario.alternatives
    )
    unknown = set(alternatives) - set(ALTERNATIVES[scenario.server])
    if unknown:
        raise SystemExit(f"Unknown alternatives for {scenario.name}: {unknown}")
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    print(f"{scenario.title}: {requests} requests, {args.rounds} round(s)")
    runs: list[dict[str, Any]] = []
    memory_runs: list[dict[str, Any]] = []
    with ExitStack() as stack:
        server = _start_server(scenario, stack)
        for round_index in range(args.rounds):
            shift = round_index % len(alternatives)
            for alternative in [*alternatives[shift:], *alternatives[:shift]]:
                run = measure_once(scenario, alternative, requests, server, args)
                run["round"] = round_index
                runs.append(run)
                _print_progress(run)
        rows = summarize(runs, alternatives)
        if scenario.memory and not args.no_memory:
            memory_runs = _memory(scenario, server, args, requests=requests, rows=rows)
    return {
        "scenario": scenario.name,
        "command": ".venv/bin/python -m bench.run " + shlex.join(sys.argv[1:]),
        "started": started,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "config": {
            "package": runs[0].get("package") if runs else None,
            "requests": requests,
            "domains": scenario.domain_count(requests),
            "rounds": args.rounds,
            "seed": args.seed,
            "alternatives": list(alternatives),
            "set": args.set,
        },
        "summary": rows,
        "runs": runs,
        "memory_runs": memory_runs,
    }


def profile(scenario: Scenario, args: argparse.Namespace) -> None:
    """Profile one crawl of ``args.profile`` and print its top functions."""
    requests = args.requests or scenario.requests
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{scenario.name}-{args.profile}.prof"
    with ExitStack() as stack:
        server = _start_server(scenario, stack)
        run = measure_once(
            scenario, args.profile, requests, server, args, "--profile", str(path)
        )
    print(
        f"{scenario.name}/{args.profile}: wall {run['wall']:.2f} s (profiled), "
        f"cpu {run['cpu']:.2f} s, profile in {path}"
    )
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the scenario(s) of the command line."""
    args = _parse_args(argv)
    names = (
        [name for name, scenario in SCENARIOS.items() if scenario.in_all]
        if args.scenario == "all"
        else [args.scenario]
    )
    if args.profile:
        for name in names:
            profile(SCENARIOS[name], args)
        return
    RESULTS.mkdir(exist_ok=True)
    for name in names:
        result = run_scenario(SCENARIOS[name], args)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = RESULTS / f"{name}-{stamp}.json"
        path.write_text(json.dumps(result, indent=1))
        print()
        print("\n".join(table(name, result["summary"])))
        for note in notes(result):
            print(f"- {note}")
        print(f"\nResult written to {path.relative_to(ROOT)}\n")


if __name__ == "__main__":
    main()
