"""`make reliability`: every fault on the embedded defaults and on Kafka + Elasticsearch.

.venv/bin/python -m reliability [--backend embedded|kafka-es|all] [--repeats R]
    [--articles N] [--only SUBSTRING ...] [--seed S] [--no-load-test]

Prints one row per scenario (expected / indexed / lost / duplicated / recovery
seconds, then the saved search's deliveries: delivered / lost / duplicated / seconds
until all were delivered), writes the same rows to test-artifacts/reliability/report.json,
and exits non-zero when any row lost or duplicated an article or a delivery, or never
recovered. The disk-full
rows need root: the harness then re-runs itself in a private mount namespace
(`unshare -m`), where a small tmpfs can be mounted and vanishes with the run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from reliability.faults import (
    PRIVATE_MOUNTS,
    Fault,
    ServerStop,
    Signal,
    alerts_faults,
    can_make_private_mounts,
    embedded_faults,
    in_private_mounts,
)
from reliability.harness import Row, Settings, run_row
from reliability.load import LoadResult, load_test
from reliability.site import MissingBenchmark, load_stories

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "reliability"
TESTS = ROOT / "tests"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reliability", description=__doc__)
    parser.add_argument("--backend", choices=["embedded", "kafka-es", "all"], default="all")
    parser.add_argument("--repeats", type=int, default=3, help="runs per scenario (default 3)")
    parser.add_argument("--articles", type=int, default=48, help="stories on the site")
    parser.add_argument("--page-delay", type=float, default=0.2, help="seconds per article page")
    parser.add_argument("--only", nargs="*", default=[], help="scenarios whose name has this")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--keep-logs", action="store_true", help="keep the data dirs of green runs")
    parser.add_argument("--no-load-test", action="store_true")
    parser.add_argument("--out", type=Path, default=ARTIFACTS / "report.json")
    return parser


def _selected(faults: list[Fault], only: list[str]) -> list[Fault]:
    return [f for f in faults if not only or any(word in f.name for word in only)]


def _kafka_es_rows(args: argparse.Namespace, settings: Settings) -> list[Row]:
    """Real Kafka and Elasticsearch from deploy/local/launch.py, as the test suite starts them."""
    sys.path.insert(0, str(TESTS))
    from support.launcher import local_servers  # the suite's loader of deploy/local/launch.py

    servers = local_servers()
    kafka = servers.LocalKafka(startup_timeout=180).start()
    elasticsearch = servers.LocalElasticsearch().start()
    try:
        settings.backend_env = {
            "NEWSAGG_BUS_URL": kafka.url,
            "NEWSAGG_STORE_URL": elasticsearch.url,
            "NEWSAGG_KAFKA_PARTITIONS": "3",
        }
        # one broker serves every run: each run reads the topic with a group of its own
        # and writes an index of its own; its site's port makes its URLs its own too
        settings.fresh_env = lambda: {
            "NEWSAGG_STORE_INDEX": f"reliability-{uuid.uuid4().hex[:10]}",
            "NEWSAGG_INDEXER_GROUP": f"reliability-{uuid.uuid4().hex[:10]}",
            "NEWSAGG_ALERTS_INDEX": f"reliability-alerts-{uuid.uuid4().hex[:10]}",
            "NEWSAGG_ALERTS_GROUP": f"reliability-alerts-{uuid.uuid4().hex[:10]}",
        }
        faults = _selected(
            [
                Signal("kill -9 indexer", service="index"),
                Signal("kill -9 crawler", service="crawl"),
                ServerStop("Kafka broker stop", server=kafka),
                ServerStop("Elasticsearch node stop", server=elasticsearch),
                *alerts_faults(),
            ],
            args.only,
        )
        rows = []
        for fault in faults:
            rows.append(
                run_row("kafka-es", fault, settings, args.repeats, args.seed, args.keep_logs)
            )
            _progress(rows[-1])
        return rows
    finally:
        elasticsearch.close()
        kafka.close()


def _progress(row: Row) -> None:
    data = row.as_dict()
    outcome = (
        f"skipped ({row.skipped})"
        if row.skipped
        else (
            f"{data['indexed']}/{data['expected']} indexed, {data['lost']} lost, "
            f"{data['duplicated']} duplicated, recovery max {data['recovery_max_s']}s; "
            f"{data['delivered']} delivered, {data['deliveries_lost']} lost, "
            f"{data['deliveries_duplicated']} duplicated, {data['deliveries_unsigned']} "
            f"unsigned, {data['deliveries_resent']} resent (same id), "
            f"all delivered after max {data['delivered_max_s']}s"
        )
    )
    problems = f" PROBLEMS: {'; '.join(row.problems)}" if row.problems else ""
    print(f"{row.backend}: {row.scenario}: {outcome}{problems}", flush=True)


def _print(rows: list[Row], load: LoadResult | None) -> None:
    table = Table(title="newsagg reliability (make reliability)")
    for column in (
        "backend",
        "scenario",
        "repeats",
        "expected",
        "indexed",
        "lost",
        "duplicated",
        "recovery s (median / max)",
        "delivered",
        "lost deliveries",
        "duplicated deliveries",
        "delivered s (median / max)",
    ):
        table.add_column(column, justify="left" if column in {"backend", "scenario"} else "right")
    for row in rows:
        data = row.as_dict()
        if row.skipped:
            table.add_row(row.backend, row.scenario, f"skipped: {row.skipped}", *[""] * 9)
            continue
        recovery = (
            f"{data['recovery_median_s']} / {data['recovery_max_s']}"
            if data["recovery_median_s"] is not None
            else "-"
        )
        if data["unrecovered"]:
            recovery += f" ({data['unrecovered']} never)"
        delivered_s = (
            f"{data['delivered_median_s']} / {data['delivered_max_s']}"
            if data["delivered_median_s"] is not None
            else "-"
        )
        undelivered = sum(1 for run in row.runs if run.delivery_seconds is None)
        if undelivered:
            delivered_s += f" ({undelivered} never)"
        lost_deliveries = str(data["deliveries_lost"])
        if data["deliveries_unsigned"]:
            lost_deliveries += f" ({data['deliveries_unsigned']} unsigned)"
        style = None if row.green else "bold red"
        table.add_row(
            row.backend,
            row.scenario,
            str(data["repeats"]),
            str(data["expected"]),
            str(data["indexed"]),
            str(data["lost"]),
            str(data["duplicated"]),
            recovery,
            str(data["delivered"]),
            lost_deliveries,
            str(data["deliveries_duplicated"]),
            delivered_s,
            style=style,
        )
    if load is not None:
        table.add_row(
            "embedded",
            load.describe(),
            "",
            str(load.requests),
            str(load.requests - load.errors - load.non_2xx),
            f"{load.errors} errors",
            f"{load.non_2xx} non-2xx",
            f"{load.requests_per_second:,.0f} req/s",
            *[""] * 4,
            style=None if load.green else "bold red",
        )
    Console(width=max(120, Console().width)).print(table)


def _write(out: Path, rows: list[Row], load: LoadResult | None, args: argparse.Namespace) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "cores": os.cpu_count()},
        "params": {
            "articles": args.articles,
            "repeats": args.repeats,
            "page_delay": args.page_delay,
            "seed": args.seed,
        },
        "rows": [row.as_dict() for row in rows],
        "load_test": None if load is None else load.as_dict(),
    }
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not in_private_mounts() and can_make_private_mounts():
        # disk-full rows mount a tmpfs: do it where no one else can see it
        os.execvpe(
            "unshare",
            [
                "unshare",
                "-m",
                "--propagation",
                "private",
                sys.executable,
                "-m",
                "reliability",
                *sys.argv[1:],
            ],
            {**os.environ, PRIVATE_MOUNTS: "1"},
        )
    try:
        stories = load_stories(args.articles)
    except MissingBenchmark as exc:
        print(f"reliability: {exc}", file=sys.stderr)
        return 2
    settings = Settings(stories, ARTIFACTS / "runs", page_delay=args.page_delay)
    rows: list[Row] = []
    if args.backend in {"embedded", "all"}:
        for fault in _selected(embedded_faults(), args.only):
            rows.append(
                run_row("embedded", fault, settings, args.repeats, args.seed, args.keep_logs)
            )
            _progress(rows[-1])
    if args.backend in {"kafka-es", "all"}:
        rows.extend(_kafka_es_rows(args, settings))
    load = None if args.no_load_test else load_test(ARTIFACTS / "load")
    _print(rows, load)
    _write(args.out, rows, load, args)
    red = [row.scenario for row in rows if not row.green and not row.skipped]
    if load is not None and not load.green:
        red.append(load.describe())
    if red:
        print(f"red: {', '.join(red)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
