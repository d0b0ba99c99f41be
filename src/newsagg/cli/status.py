"""`newsagg status`: the health an operator sees on the dashboard, in the terminal.

Per source: its last successful poll, the errors of its last pass and its articles today;
then the indexer group's lag and the dead letters. It reads only durable state (the crawl
state, the store, the bus), so it answers while every service is down, like `newsagg
check`. Unhealthy, and exit code 1: a source with no successful poll for more than twice
its interval (or none ever), or a bus, store, crawl state or sources file that cannot be
read. Lag and dead letters are shown (in yellow when not zero) but do not fail it: a
snapshot cannot tell a growing lag from a passing one, and dead letters wait for a replay.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from newsagg.core.adapters import open_bus, open_store, path_of
from newsagg.core.ports import (
    ARTICLES_TOPIC,
    BusUnavailable,
    DataCorrupted,
    StoreUnavailable,
    dead_letter_topic,
)
from newsagg.core.settings import Settings
from newsagg.core.sources import SourcesError, load_sources

STALE_AFTER_INTERVALS = 2
"""A source is stale after this many poll intervals without a success (the alert's rule)."""


@dataclass
class SourceHealth:
    name: str
    interval_seconds: float
    last_success: datetime | None = None
    last_pass: datetime | None = None
    errors_last_pass: int | None = None
    articles_today: int | None = None
    problem: str | None = None

    @property
    def healthy(self) -> bool:
        return self.problem is None


@dataclass
class BusHealth:
    url: str
    group: str
    topic: str = ARTICLES_TOPIC
    lag: dict[int, int] = field(default_factory=dict)
    dead_letters: int | None = None
    error: str | None = None


@dataclass
class StoreHealth:
    url: str
    documents: int | None = None
    error: str | None = None


@dataclass
class Status:
    checked_at: datetime
    sources: list[SourceHealth]
    bus: BusHealth
    store: StoreHealth
    problems: list[str] = field(default_factory=list)
    """Everything unhealthy, one line each: what the exit code is about."""
    damaged: list[str] = field(default_factory=list)
    """Damaged data (DataCorrupted), with the repair command: also one line each on stderr."""

    @property
    def healthy(self) -> bool:
        return not self.problems


def gather(settings: Settings, now: datetime | None = None) -> Status:
    """Read the crawl state, the store and the bus; never start or write anything."""
    now = now or datetime.now(UTC)
    status = Status(
        checked_at=now,
        sources=[],
        bus=BusHealth(settings.resolved_bus_url, settings.indexer_group),
        store=StoreHealth(settings.resolved_store_url),
    )
    try:
        configured = load_sources(settings.sources)
    except SourcesError as exc:
        status.problems.append(f"sources: {exc}")
        configured = []
    status.sources = [SourceHealth(s.name, s.interval) for s in configured]
    _read_crawl_state(settings.crawl_state_path, status)
    _read_store(settings, status, now)
    _read_bus(settings, status)
    for source in status.sources:
        source.problem = _source_problem(source, now)
        if source.problem:
            status.problems.append(f"source {source.name}: {source.problem}")
    return status


def _damaged(status: Status, exc: DataCorrupted) -> str:
    status.damaged.append(str(exc))
    return str(exc)


def _read_crawl_state(path: Path, status: Status) -> None:
    if not path.exists():
        return  # never crawled: each source says so
    from newsagg.crawler.state import CrawlState

    try:
        state = CrawlState(path)
    except DataCorrupted as exc:
        status.problems.append(f"crawl state: {_damaged(status, exc)}")
        return
    try:
        passes = state.source_passes()
    finally:
        state.close()
    for source in status.sources:
        known = passes.get(source.name)
        if known is not None:
            source.last_pass = _moment(known.last_pass_at)
            source.errors_last_pass = known.errors
            source.last_success = _moment(known.last_success)


def _read_store(settings: Settings, status: Status, now: datetime) -> None:
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        store = open_store(settings.resolved_store_url, writable=False, settings=settings)
        try:
            status.store.documents = store.count()
            today = store.crawled_since(midnight)
        finally:
            store.close()
    except DataCorrupted as exc:
        status.store.error = _damaged(status, exc)
    except (StoreUnavailable, OSError, ValueError) as exc:
        status.store.error = str(exc) or type(exc).__name__
    else:
        for source in status.sources:
            source.articles_today = today.get(source.name, 0)
        return
    status.problems.append(f"store: {status.store.error}")


def _read_bus(settings: Settings, status: Status) -> None:
    url = settings.resolved_bus_url
    if url.startswith("sqlite:") and not path_of(url).exists():  # opening would create it
        status.bus.error = f"no log at {path_of(url)} yet: has the crawler run?"
        status.problems.append(f"bus: {status.bus.error}")
        return
    try:
        bus = open_bus(settings.resolved_bus_url, settings)
        try:
            status.bus.lag = bus.group_lag(ARTICLES_TOPIC, settings.indexer_group)
            status.bus.dead_letters = bus.topic_size(dead_letter_topic(ARTICLES_TOPIC))
        finally:
            bus.close()
    except DataCorrupted as exc:
        status.bus.error = _damaged(status, exc)
    except (BusUnavailable, OSError, ValueError) as exc:
        status.bus.error = str(exc) or type(exc).__name__
    else:
        return
    status.problems.append(f"bus: {status.bus.error}")


def _moment(stamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(stamp, UTC) if stamp is not None else None


def _source_problem(source: SourceHealth, now: datetime) -> str | None:
    if source.last_success is None:
        return "no listing answered in any pass" if source.last_pass else "never polled"
    silent = (now - source.last_success).total_seconds()
    if silent > STALE_AFTER_INTERVALS * source.interval_seconds:
        return (
            f"no successful poll for {_age(silent)} (polled every {_age(source.interval_seconds)})"
        )
    return None


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


# -- output -----------------------------------------------------------------------------


def as_json(status: Status) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    return {
        "healthy": status.healthy,
        "problems": status.problems,
        "checked_at": status.checked_at.isoformat(),
        "sources": [
            {**plain(asdict(source)), "healthy": source.healthy} for source in status.sources
        ],
        "bus": {**plain(asdict(status.bus)), "lag_total": sum(status.bus.lag.values())},
        "store": asdict(status.store),
    }


def _when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    return f"{moment:%Y-%m-%d %H:%M} UTC ({_age((now - moment).total_seconds())} ago)"


def _rows(status: Status) -> list[tuple[str, str, str, str, str]]:
    def number(value: int | None) -> str:
        return "?" if value is None else str(value)

    return [
        (
            source.name,
            _when(source.last_success, status.checked_at),
            number(source.errors_last_pass),
            number(source.articles_today),
            "ok" if source.healthy else f"UNHEALTHY: {source.problem}",
        )
        for source in status.sources
    ]


HEADERS = ("source", "last success", "errors (last pass)", "articles today (UTC)", "health")


def _bus_line(bus: BusHealth) -> str:
    if bus.error:
        return f"bus {bus.url}: UNHEALTHY: {bus.error}"
    partitions = ", ".join(f"{p}: {n}" for p, n in sorted(bus.lag.items())) or "none"
    return (
        f"bus {bus.url}: group {bus.group!r} on {bus.topic!r} lag {sum(bus.lag.values())}"
        f" (per partition {partitions}); dead letters in"
        f" {dead_letter_topic(bus.topic)!r}: {bus.dead_letters}"
    )


def _store_line(store: StoreHealth) -> str:
    if store.error:
        return f"store {store.url}: UNHEALTHY: {store.error}"
    return f"store {store.url}: {store.documents} documents"


def print_plain(status: Status, out: TextIO) -> None:
    rows = [HEADERS, *_rows(status)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip(), file=out)
    if not status.sources:
        print("(no sources configured)", file=out)
    print(_bus_line(status.bus), file=out)
    print(_store_line(status.store), file=out)
    print(_verdict(status), file=out)


def _verdict(status: Status) -> str:
    if status.healthy:
        return "healthy"
    return f"unhealthy: {len(status.problems)} problem(s): " + "; ".join(status.problems)


def print_rich(status: Status, out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=out, force_terminal=True, highlight=False)
    table = Table(*HEADERS, title="newsagg sources", title_justify="left")
    for source, row in zip(status.sources, _rows(status), strict=True):
        errors = "yellow" if source.errors_last_pass else ""
        table.add_row(
            row[0],
            Text(row[1], style="" if source.healthy else "red"),
            Text(row[2], style=errors),
            row[3],
            Text(row[4], style="green" if source.healthy else "bold red"),
        )
    console.print(table)
    bus, store = status.bus, status.store
    waiting = bus.dead_letters or any(bus.lag.values())
    bus_style = "red" if bus.error else ("yellow" if waiting else "")
    console.print(Text(_bus_line(bus), style=bus_style))
    console.print(Text(_store_line(store), style="red" if store.error else ""))
    console.print(Text(_verdict(status), style="bold green" if status.healthy else "bold red"))


def print_status(
    settings: Settings, *, as_json_output: bool = False, out: TextIO | None = None
) -> int:
    """Print the status (JSON, a coloured table at a terminal, plain text otherwise);
    damaged data is also one `newsagg status: ...` line on stderr. 1 when unhealthy."""
    out = out or sys.stdout
    status = gather(settings)
    for damage in status.damaged:
        print(f"newsagg status: {damage}", file=sys.stderr)
    if as_json_output:
        print(json.dumps(as_json(status)), file=out)
    elif out.isatty():
        print_rich(status, out)
    else:
        print_plain(status, out)
    return 0 if status.healthy else 1
