"""One table of every issue-16 target from the benchmarks' results, and the machine they ran on.

.venv/bin/python bench/summary.py [--results DIR] [--markdown] [--expect a,b,...] [--since EPOCH]

Reads `<results>/*.json` (bench/results, or $NEWSAGG_BENCH_RESULTS, or --results) as
written by `_report.report`. A row per target: the stage, newsagg's figure, the peer's in
the same run, their ratio (the target's value; "—" when it has no peer), the goal, and
whether it was met. `--markdown` prints the same for the README. `--expect` names the
benchmarks that must have results and `--since` the time (Unix seconds) they must be newer
than: `make bench` passes both, so a benchmark that failed or never ran is a missing row
and exit status 1, never a stale figure from an earlier run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from _report import results_dir
from rich.console import Console
from rich.table import Table

COLUMNS = ("stage", "newsagg", "peer", "ratio", "target", "met")


@dataclass(frozen=True)
class Result:
    name: str
    path: Path
    data: dict[str, Any]

    @property
    def at(self) -> datetime:
        return datetime.fromisoformat(self.data["at"])


def load(directory: Path) -> list[Result]:
    """Every benchmark's JSON in `directory` (profiles beside them are not results)."""
    found = []
    for path in sorted(directory.glob("*.json")):
        if path.name.endswith(".speedscope.json"):
            continue
        data = json.loads(path.read_text())
        found.append(Result(data.get("benchmark", path.stem), path, data))
    return found


def _figure(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value)
    if isinstance(value, float):
        if value == 0 or abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


RATIO_NAME = re.compile(r" vs | / ")


def is_ratio(entry: dict[str, Any]) -> bool:
    """Whether a target's value is newsagg's figure over the peer's: its `ratio` key, else its
    name ("... vs ...", "A / B"), the benchmarks' convention. A value that is not a ratio
    (docs/s against a goal, an F1) is shown as newsagg's figure only."""
    if "ratio" in entry:
        return bool(entry["ratio"])
    return RATIO_NAME.search(entry["target"]) is not None


def rows(results: list[Result]) -> list[tuple[str, ...]]:
    """(stage, newsagg, peer, ratio, target, met) for every target of every result."""
    table = []
    for result in results:
        for entry in result.data.get("targets", []):
            has_peer = entry.get("peer") not in (None, "")
            table.append(
                (
                    f"{result.name}: {entry['target']}",
                    _figure(entry.get("newsagg", entry["value"])),
                    _figure(entry["peer"]) if has_peer else "—",
                    f"{_figure(entry['value'])}×" if is_ratio(entry) else "—",
                    entry["goal"] or "—",
                    {True: "yes", False: "no", None: "—"}[entry["met"]],
                )
            )
    return table


def problems(results: list[Result], expect: list[str], since: float | None) -> list[str]:
    """Benchmarks expected but without results, or with results older than `since`."""
    by_name = {r.name: r for r in results}
    found = []
    for name in expect:
        result = by_name.get(name)
        if result is None:
            found.append(f"{name}: no results (the benchmark failed or did not run)")
        elif since is not None and result.at.timestamp() < since:
            found.append(f"{name}: results from {result.data['at']}, older than this run")
        elif not result.data.get("targets"):
            found.append(f"{name}: results without targets")
    return found


def machine_line(results: list[Result]) -> str:
    """The machine (and how loaded it was) of the runs the table comes from."""
    machines = [r.data.get("machine", {}) for r in results]
    kinds = sorted(
        {
            f"{m.get('cores', '?')} cores {m.get('cpu', '?')}, {m.get('ram_gb', '?')} GB RAM, "
            f"Python {m.get('python', '?')}"
            for m in machines
        }
    )
    loads = [m["load_at_start"][0] for m in machines if m.get("load_at_start")]
    commits = sorted({m["commit"] for m in machines if m.get("commit")})
    times = sorted(r.at for r in results)
    parts = ["; ".join(kinds)]
    if loads:
        parts.append(f"1-min load average at start {min(loads):.1f}–{max(loads):.1f}")
    if times:
        parts.append(f"run {times[0]:%Y-%m-%d %H:%M}–{times[-1]:%H:%M} UTC")
    if commits:
        parts.append(f"commit {', '.join(commits)}")
    return "Machine: " + ", ".join(parts) + "."


def markdown(table: list[tuple[str, ...]], machine: str) -> str:
    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    out = [line(COLUMNS), "|" + "---|" * len(COLUMNS), *(line(r) for r in table)]
    return "\n".join([*out, "", machine])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=None, help="default: bench/results")
    parser.add_argument("--markdown", action="store_true", help="a markdown table (README)")
    parser.add_argument("--expect", default="", help="comma-separated benchmarks that must be")
    parser.add_argument("--since", type=float, default=None, help="Unix time results must pass")
    args = parser.parse_args(argv)
    directory = args.results or results_dir()
    results = load(directory)
    table = rows(results)
    machine = machine_line(results) if results else f"No results in {directory}."
    issues = problems(results, [n for n in args.expect.split(",") if n], args.since)
    if args.markdown:
        print(markdown(table, machine))
    else:
        # a log (CI, `make bench | tee`) is not an 80-column terminal: keep rows unbroken
        console = Console(width=None if sys.stdout.isatty() else 160)
        shown = Table(title=f"issue 16 targets ({directory})")
        for column in COLUMNS:
            shown.add_column(column, justify="left" if column == "stage" else "right")
        for row in table:
            style = {"no": "red", "yes": "green"}.get(row[-1])
            shown.add_row(*row, style=style)
        console.print(shown)
        console.print(machine, soft_wrap=True)
        plain = [r.name for r in results if not r.data.get("targets")]
        if plain:
            console.print(
                f"Results without targets (rows only): {', '.join(plain)}.", soft_wrap=True
            )
    for issue in issues:
        print(f"summary: {issue}", file=sys.stderr)
    return 1 if issues else 0


if __name__ == "__main__":
    sys.exit(main())
