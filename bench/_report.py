"""Shared by the benchmarks: print a table with rich, write the same rows as JSON.

Every benchmark ends with `report(name, rows, params, targets=[...])`, which writes
`<results>/<name>.json` with the rows, the parameters, the issue-16 targets it checked
and the machine it ran on. `<results>` is bench/results, or $NEWSAGG_BENCH_RESULTS
(`make bench-quick` points it at a temporary directory so quick runs never overwrite the
full run's files). Profiles go beside the JSON: `profile_path(name, what)`.

A target is a dict:
    {"target": "pages per CPU-second vs plain trafilatura", "value": 1.12, "goal": ">= 1.0",
     "met": True, "newsagg": "31.2 pages/CPU-s", "peer": "27.9 pages/CPU-s"}
`newsagg` and `peer` (the two figures the value compares; text or number) are optional;
`target()` builds one and decides `met` from a goal of the form "<op> <number>". A figure
with no goal (a peak RSS the issue wants in the table) has `"goal": ""` and `"met": None`.
The summary shows the value as a ratio when `"ratio"` is true, or, without that key, when
the name reads as one ("A vs B", "A / B").
"""

from __future__ import annotations

import json
import operator
import os
import platform
import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results"
RESULTS_ENV = "NEWSAGG_BENCH_RESULTS"
LOAD_AT_START = os.getloadavg()
"""Load average when the benchmark started (this module is imported first thing): a busy
machine explains a slow run."""

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}
_GOAL = re.compile(r"^\s*(>=|<=|>|<|==)\s*(-?[\d.]+(?:e-?\d+)?)")


def results_dir() -> Path:
    """Where results and profiles go: $NEWSAGG_BENCH_RESULTS, else bench/results."""
    configured = os.environ.get(RESULTS_ENV)
    return Path(configured) if configured else RESULTS


def profile_path(name: str, what: str) -> Path:
    """`<results>/<name>.<what>.speedscope.json`, for `run_measured(..., profile=...)`."""
    return results_dir() / f"{name}.{what}.speedscope.json"


def goal_met(value: float, goal: str) -> bool | None:
    """Whether `value` meets a goal like ">= 1.0" or "< 50"; None if the goal has no such form."""
    match = _GOAL.match(goal)
    if match is None:
        return None
    return _OPS[match.group(1)](value, float(match.group(2)))


def target(
    name: str,
    value: float,
    goal: str,
    *,
    newsagg: str | float | None = None,
    peer: str | float | None = None,
    ratio: bool | None = None,
) -> dict[str, Any]:
    """One target with `met` decided from the goal ("" for a figure reported without a goal)."""
    met = goal_met(value, goal) if goal else None
    if goal and met is None:
        raise ValueError(f"goal {goal!r} of {name!r} is not '<op> <number>': pass a dict instead")
    entry: dict[str, Any] = {"target": name, "value": value, "goal": goal, "met": met}
    if newsagg is not None:
        entry["newsagg"] = newsagg
    if peer is not None:
        entry["peer"] = peer
    if ratio is not None:
        entry["ratio"] = ratio
    return entry


def _check_target(entry: dict[str, Any]) -> None:
    missing = {"target", "value", "goal", "met"} - entry.keys()
    if missing:
        raise ValueError(f"target {entry!r} lacks {sorted(missing)}")
    if not isinstance(entry["value"], int | float) or isinstance(entry["value"], bool):
        raise ValueError(f"target {entry['target']!r}: value {entry['value']!r} is not a number")
    if entry["met"] is not None and not isinstance(entry["met"], bool):
        raise ValueError(f"target {entry['target']!r}: met must be true, false or null")
    computed = goal_met(entry["value"], entry["goal"]) if entry["goal"] else None
    if computed is not None and computed != entry["met"]:
        raise ValueError(
            f"target {entry['target']!r}: value {entry['value']} with goal {entry['goal']!r} "
            f"is met={computed}, not {entry['met']}"
        )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _commit() -> str | None:
    """The checked-out commit, with "+dirty" when tracked files differ from it."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "diff", "--quiet", "HEAD", "--", "."], cwd=root, check=False
        ).returncode
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def machine() -> dict[str, Any]:
    """The facts that make two runs comparable or not."""
    return {
        "cores": len(os.sched_getaffinity(0)),
        "cpu": _cpu_model(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_at_start": [round(load, 2) for load in LOAD_AT_START],
        "python": platform.python_version(),
        "commit": _commit(),
    }


def _cell(value: Any) -> str:
    """Floats with one decimal, except scores and other fractions below 1, which need four."""
    if isinstance(value, float):
        return f"{value:.4f}" if 0 < abs(value) < 1 else f"{value:,.1f}"
    return str(value)


def _rows_table(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title)
    for column in rows[0]:
        table.add_column(
            column, justify="right" if isinstance(rows[0][column], float | int) else "left"
        )
    for row in rows:
        table.add_row(*(_cell(row.get(column, "")) for column in rows[0]))
    return table


def report(
    name: str,
    rows: list[dict[str, Any]],
    params: dict[str, Any],
    targets: list[dict[str, Any]] | None = None,
    *,
    results: Path | None = None,
) -> Path:
    """Print the rows (and targets) and write them with params and machine facts as JSON."""
    targets = targets or []
    for entry in targets:
        _check_target(entry)
    console = Console()
    title = f"{name} ({', '.join(f'{k}={v}' for k, v in params.items())})"
    if rows:
        console.print(_rows_table(title, rows))
    if targets:
        shown = [
            {
                "target": t["target"],
                "newsagg": _cell(t.get("newsagg", "")),
                "peer": _cell(t.get("peer", "")),
                "value": f"{t['value']:.4g}",
                "goal": t["goal"],
                "met": {True: "yes", False: "NO", None: ""}[t["met"]],
            }
            for t in targets
        ]
        console.print(_rows_table(f"{name}: targets", shown))
    out_dir = results or results_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{name}.json"
    out.write_text(
        json.dumps(
            {
                "benchmark": name,
                "at": datetime.now(UTC).isoformat(),
                "machine": machine(),
                "params": params,
                "rows": rows,
                "targets": targets,
            },
            indent=2,
        )
    )
    print(f"wrote {out}")
    return out
