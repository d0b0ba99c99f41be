"""`newsagg check` and `newsagg repair`: find damaged data, and rebuild it from what is whole.

The bus is the log of record; the index and the crawl state are derived from it and
can be rebuilt: the index by re-reading the log (what `replay --from-beginning`
does), the crawl state from the index. A damaged bus can only be salvaged, and so can
the saved searches (their own data, in no log). Nothing is deleted: a damaged file or
directory is moved aside as `<name>.corrupt-<time>`. See docs/runbook.md.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from newsagg.core.adapters import open_alert_store, open_bus, open_store, path_of
from newsagg.core.adapters.sqlite_alerts import REMEDY as ALERTS_REMEDY
from newsagg.core.adapters.sqlite_alerts import SqliteAlertStore
from newsagg.core.adapters.sqlite_bus import SqliteLogBus
from newsagg.core.adapters.tantivy_check import IndexCheck
from newsagg.core.adapters.tantivy_schema import Layout
from newsagg.core.ports import (
    ARTICLES_TOPIC,
    BusUnavailable,
    DataCorrupted,
    GroupActive,
    StoreUnavailable,
)
from newsagg.core.search import SearchQuery
from newsagg.core.settings import Settings
from newsagg.core.sqlite_check import check_sqlite_file
from newsagg.crawler.state import CORRUPTED_REMEDY

REINDEX_BATCH = 500
IDLE_LIMIT = 30.0
"""Seconds `repair --index` waits for the log's next message before it stops reading."""


@dataclass(frozen=True)
class Finding:
    part: str
    state: str  # ok | outdated | missing | corrupted | unavailable
    detail: str

    def line(self) -> str:
        return f"{self.part}: {self.state}: {self.detail}"


def run_check(settings: Settings) -> int:
    """One line per part; exit 1 if any part is corrupted or cannot be checked."""
    findings = [
        _check_bus(settings),
        _check_index(settings),
        _check_crawl_state(settings),
        _check_alerts(settings),
    ]
    for finding in findings:
        print(finding.line())
    return 1 if any(f.state in ("corrupted", "unavailable") for f in findings) else 0


def _finding(part: str, where: str, check: Callable[[], str]) -> Finding:
    try:
        return Finding(part, "ok", f"{check()} ({where})")
    except DataCorrupted as exc:
        return Finding(part, "corrupted", str(exc))
    except (BusUnavailable, StoreUnavailable, OSError) as exc:
        return Finding(part, "unavailable", f"{exc} ({where})")


def _check_bus(settings: Settings) -> Finding:
    url = settings.resolved_bus_url
    if urlsplit(url).scheme != "sqlite":
        return _finding("bus", url, lambda: _answers(open_bus(url, settings)))
    path = path_of(url)
    if not path.exists():
        return Finding("bus", "missing", f"{path} (a new log starts there)")

    def whole() -> str:
        check_sqlite_file(path)
        uri = f"{path.resolve().as_uri()}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as conn:
            (count,) = conn.execute("SELECT COUNT(*) FROM messages").fetchone()
        return f"{count} messages"

    return _finding("bus", str(path), whole)


def _answers(part: object) -> str:
    try:
        healthy = part.health()  # type: ignore[attr-defined]
    finally:
        part.close()  # type: ignore[attr-defined]
    if not healthy:
        raise BusUnavailable("does not answer")
    return "answers (it checks its own data)"


def _check_index(settings: Settings) -> Finding:
    url = settings.resolved_store_url
    if urlsplit(url).scheme != "tantivy":
        return _finding("index", url, lambda: _answers(open_store(url, writable=False)))
    path = path_of(url)
    check = IndexCheck(path)
    try:
        exists = check.exists()
    except DataCorrupted as exc:
        return Finding("index", "corrupted", str(exc))
    if not exists:
        return Finding("index", "missing", f"{path} (the indexer creates it)")

    def whole() -> str:
        check.check()  # every byte of every segment, against its checksum
        store = open_store(url, writable=False)
        try:
            return f"{store.count()} articles"
        finally:
            store.close()

    finding = _finding("index", str(path), whole)
    layout = Layout.of(path) if finding.state == "ok" else None
    if layout is not None and layout.missing:  # whole, but too old for some filters
        return Finding("index", "outdated", f"{finding.detail}; {layout.describe(path)}")
    return finding


def _check_crawl_state(settings: Settings) -> Finding:
    path = settings.crawl_state_path
    if not path.exists():
        return Finding("crawl state", "missing", f"{path} (the crawler creates it)")

    def whole() -> str:
        check_sqlite_file(path, CORRUPTED_REMEDY)
        return "whole"

    return _finding("crawl state", str(path), whole)


def _check_alerts(settings: Settings) -> Finding:
    url = settings.resolved_alerts_url
    if urlsplit(url).scheme != "sqlite":
        return _finding("saved searches", url, lambda: _answers(open_alert_store(url, settings)))
    path = path_of(url)
    if not path.exists():
        return Finding("saved searches", "missing", f"{path} (the API creates it)")

    def whole() -> str:
        check_sqlite_file(path, ALERTS_REMEDY)
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            (searches,) = conn.execute("SELECT COUNT(*) FROM searches").fetchone()
            (matches,) = conn.execute("SELECT COUNT(*) FROM matches").fetchone()
        return f"{searches} saved searches, {matches} matches"

    return _finding("saved searches", str(path), whole)


# -- repair -------------------------------------------------------------------------


def run_repair(
    settings: Settings, *, index: bool, crawl_state: bool, bus: bool, alerts: bool = False
) -> int:
    """Repair the parts asked for, the bus first (the others are rebuilt from it)."""
    code = 0
    if alerts:
        code = max(code, repair_alerts(settings))
    if bus:
        code = max(code, repair_bus(settings))
    if index:
        code = max(code, repair_index(settings))
    if crawl_state:
        code = max(code, repair_crawl_state(settings))
    return code


def _aside(path: Path) -> Path:
    """Move a damaged file or directory (and SQLite's -wal/-shm) out of the way, keep it."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    path.rename(target)
    for suffix in ("-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            companion.rename(target.with_name(target.name + suffix))
    return target


def repair_index(settings: Settings) -> int:
    """Move the index aside, make a new one and index the whole bus log into it.

    The indexer group is rewound first (as `replay --from-beginning`), which refuses
    while an indexer runs, so nothing is moved under a running writer.
    """
    url = settings.resolved_store_url
    if urlsplit(url).scheme != "tantivy":
        print(
            "newsagg repair: --index rebuilds the embedded index; Elasticsearch keeps replicas"
            " and checks its own shards (`newsagg reindex` copies into a new index)",
            file=sys.stderr,
        )
        return 2
    from newsagg.indexer.worker import Indexer

    path = path_of(url)
    log_bus = open_bus(settings.resolved_bus_url, settings)
    try:
        try:
            lag = log_bus.rewind(ARTICLES_TOPIC, settings.indexer_group, None)
        except GroupActive as exc:
            print(f"newsagg repair: {exc}", file=sys.stderr)
            return 1
        if path.exists():
            print(f"index: moved {path} aside to {_aside(path)}")
        store = open_store(url, writable=True, settings=settings)
        consumer = log_bus.consumer(ARTICLES_TOPIC, settings.indexer_group)
        try:
            store.ensure_schema()
            indexer = Indexer(log_bus, consumer, store, batch_size=REINDEX_BATCH)
            messages, idle_since = 0, time.monotonic()
            # Kafka may take seconds to assign partitions: an empty poll is not the end.
            while messages < sum(lag.values()) and time.monotonic() - idle_since < IDLE_LIMIT:
                batch = consumer.poll(REINDEX_BATCH, timeout=1.0)
                if batch:
                    indexer.process(batch)
                    messages, idle_since = messages + len(batch), time.monotonic()
            count = store.count()
        finally:
            consumer.close()
            store.close()
    finally:
        log_bus.close()
    print(
        f"index: re-indexed {messages} of {sum(lag.values())} messages of"
        f" {ARTICLES_TOPIC!r} into a new index at {path}: {count} articles"
    )
    return 0


def repair_crawl_state(settings: Settings) -> int:
    """Move the crawl state aside and record every article of the index as done.

    So the next pass fetches again only what the index lacks (or what a listing dates
    newer), instead of re-publishing everything.
    """
    from newsagg.crawler.spider import url_key
    from newsagg.crawler.state import CrawlState

    path = settings.crawl_state_path
    store = open_store(settings.resolved_store_url, writable=False, settings=settings)
    try:
        store.count()  # an unreadable index fails here, before anything is moved
        if path.exists():
            print(f"crawl state: moved {path} aside to {_aside(path)}")
        state = CrawlState(path)
        recorded = 0
        try:
            for article in store.scan(SearchQuery()):
                stamp = max(
                    (d for d in (article.updated_at, article.published_at) if d), default=None
                )
                for key in {url_key(article.url), url_key(article.canonical_url or article.url)}:
                    state.record(key, stamp, article.content_hash, article.id)
                recorded += 1
        finally:
            state.close()
    finally:
        store.close()
    print(f"crawl state: rebuilt {path} from {recorded} articles of the index")
    return 0


def repair_bus(settings: Settings) -> int:
    """Move a damaged SQLite bus aside and copy every message still readable into a new log.

    The sqlite3 shell's `.recover` would be the tool, but Python's sqlite3 module has
    none and Debian 12's `sqlite3` 3.40 fails it ("SQL logic error"), so messages are
    read one by one by sequence number: a message on a damaged page is skipped, every
    other one keeps its offset, and the groups' committed offsets are kept if readable.
    """
    url = settings.resolved_bus_url
    if urlsplit(url).scheme != "sqlite":
        print(
            "newsagg repair: --bus salvages the embedded log; Kafka replicates and repairs"
            " its own log segments",
            file=sys.stderr,
        )
        return 2
    path = path_of(url)
    if not path.exists():
        print(f"bus: {path} does not exist; a new log starts there")
        return 0
    damaged = _aside(path)
    print(f"bus: moved {path} aside to {damaged}")
    SqliteLogBus(path).close()  # a new, empty log with the schema
    kept, lost = _salvage(damaged, path)
    advice = (
        "Articles that were only in the lost messages (published, not yet indexed) must be"
        " fetched again: run `newsagg repair --crawl-state`, which rebuilds the crawl state"
        " from the index, so the crawler fetches again every article the index lacks."
    )
    if kept and not lost:
        print(f"bus: all {kept} messages were readable and are in the new log at {path}.")
        return 0
    print(f"bus: {kept} messages copied into the new log at {path}, {lost} unreadable. {advice}")
    return 0 if kept else 1


def _salvage(damaged: Path, target: Path) -> tuple[int, int]:
    """(messages copied, messages lost) from a damaged bus file into a new one."""
    try:
        source = sqlite3.connect(f"{damaged.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return 0, 0
    kept = 0
    with closing(source), closing(sqlite3.connect(target, isolation_level=None)) as out:
        last = _last_seq(source)
        out.execute("BEGIN")
        for seq in range(1, last + 1):
            try:
                row = source.execute(
                    "SELECT seq, topic, key, value, headers, ts FROM messages WHERE seq = ?",
                    (seq,),
                ).fetchone()
            except sqlite3.DatabaseError:
                continue  # on a damaged page
            if row is not None:
                out.execute("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?)", row)
                kept += 1
        try:
            offsets = source.execute("SELECT grp, topic, committed FROM group_offsets").fetchall()
        except sqlite3.DatabaseError:
            offsets = []  # the groups read the log again from the start: upserts are idempotent
        out.executemany("INSERT INTO group_offsets VALUES (?, ?, ?)", offsets)
        out.execute("COMMIT")
    return kept, last - kept


def _last_seq(source: sqlite3.Connection) -> int:
    """The highest sequence number the damaged log handed out, from whatever still reads."""
    for query in (
        "SELECT seq FROM sqlite_sequence WHERE name = 'messages'",
        "SELECT MAX(seq) FROM messages",
    ):
        try:
            row = source.execute(query).fetchone()
        except sqlite3.DatabaseError:
            continue
        if row and row[0]:
            return int(row[0])
    return 0


def repair_alerts(settings: Settings) -> int:
    """Move a damaged saved-search file aside and copy every row still readable into a
    new one: the saved searches, then the matches of those searches.

    Read row by row (by rowid, as the bus's messages by sequence number), so a row on a
    damaged page is skipped and every other one kept as it was, delivery marks included.
    """
    url = settings.resolved_alerts_url
    if urlsplit(url).scheme != "sqlite":
        print(
            "newsagg repair: --alerts salvages the embedded saved-search file; Elasticsearch"
            " replicates and checks its own indices",
            file=sys.stderr,
        )
        return 2
    path = path_of(url)
    if not path.exists():
        print(f"saved searches: {path} does not exist; the API creates a new one")
        return 0
    damaged = _aside(path)
    print(f"saved searches: moved {path} aside to {damaged}")
    SqliteAlertStore(path).close()  # a new, empty file with the schema
    try:
        source = sqlite3.connect(f"{damaged.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        print(f"saved searches: {damaged} cannot be opened: nothing copied")
        return 1
    with closing(source), closing(sqlite3.connect(path, isolation_level=None)) as out:
        out.execute("BEGIN")
        searches, lost_searches = _copy_rows(
            source, out, "searches", "id, owner, feed_token, created_us, body"
        )
        matches, lost_matches = _copy_rows(
            source, out, "matches", "search_id, article_id, matched_us, delivery_id, delivered_us"
        )
        orphans = out.execute(
            "DELETE FROM matches WHERE search_id NOT IN (SELECT id FROM searches)"
        ).rowcount
        out.execute("COMMIT")
    print(
        f"saved searches: copied {searches} saved searches and {matches - orphans} matches"
        f" into a new file at {path}; unreadable: {lost_searches} saved-search rows,"
        f" {lost_matches} match rows ({orphans} matches of lost searches dropped)."
    )
    if lost_searches or lost_matches:
        print(
            "Saved searches that were lost must be saved again (their owners' lists show"
            " which remain). Lost matches that were not yet delivered are not sent: matching"
            " happens once, as articles are indexed."
        )
    return 0 if searches or not lost_searches else 1


def _copy_rows(
    source: sqlite3.Connection, out: sqlite3.Connection, table: str, columns: str
) -> tuple[int, int]:
    """(rows copied, rowids that could not be read) of `table`, one rowid at a time."""
    last = 0
    try:
        (found,) = source.execute(f"SELECT MAX(rowid) FROM {table}").fetchone()
        last = int(found or 0)
    except sqlite3.DatabaseError:
        pass  # the table's root is unreadable: nothing of it can be found
    kept = lost = 0
    marks = ", ".join("?" for _ in columns.split(","))
    for rowid in range(1, last + 1):
        try:
            row = source.execute(
                f"SELECT {columns} FROM {table} WHERE rowid = ?", (rowid,)
            ).fetchone()
        except sqlite3.DatabaseError:
            lost += 1
            continue
        if row is not None:
            out.execute(f"INSERT OR IGNORE INTO {table} ({columns}) VALUES ({marks})", row)
            kept += 1
    return kept, lost
