"""SqliteAlertStore: saved searches, their matches and open deliveries in one SQLite file.

The embedded AlertStore (`sqlite:///data/alerts.sqlite`), shared by the API's threads,
its worker processes and the alerts worker: WAL, a busy timeout, one connection per
store behind a lock, and every read-modify-write (opening a delivery, closing one,
deleting a search with its matches) in one `BEGIN IMMEDIATE` transaction, so two
processes never open two deliveries of one search or both count a match as new.

A match's row is keyed (search_id, article_id): recording it again, even after it was
delivered, changes nothing. A match is in the open delivery of its search while it has
a delivery_id and no delivered_at; matches recorded meanwhile have neither and wait for
the next one. Times are stored as integer microseconds since the epoch (UTC), so order
is exact and a datetime comes back equal to the one written.

Writes run with `synchronous=FULL`: a recorded match is on disk before the alerts
worker commits its bus offsets, and a saved search before the API answers 201.
Damage is DataCorrupted (checked at open, and SQLITE_CORRUPT/NOTADB met later), any
other SQLite failure (a lock held past the timeout, a full disk) StoreUnavailable.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from newsagg.core.alerts.model import Delivery, Match, SavedSearch, delivery_id
from newsagg.core.ports import DataCorrupted, StoreUnavailable
from newsagg.core.sqlite_check import check_sqlite_file, create_whole, is_corruption

_SCHEMA = """
CREATE TABLE IF NOT EXISTS searches (
    id         TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    feed_token TEXT NOT NULL UNIQUE,
    created_us INTEGER NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS searches_by_owner ON searches (owner, created_us);
CREATE TABLE IF NOT EXISTS matches (
    search_id    TEXT NOT NULL,
    article_id   TEXT NOT NULL,
    matched_us   INTEGER NOT NULL,
    delivery_id  TEXT,
    delivered_us INTEGER,
    PRIMARY KEY (search_id, article_id)
);
CREATE INDEX IF NOT EXISTS matches_by_time ON matches (search_id, matched_us);
CREATE INDEX IF NOT EXISTS matches_pending ON matches (search_id, matched_us)
    WHERE delivered_us IS NULL;
CREATE TABLE IF NOT EXISTS revision (
    only  INTEGER PRIMARY KEY CHECK (only = 1),
    file  TEXT NOT NULL,
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO revision VALUES (1, lower(hex(randomblob(8))), 0);
CREATE TRIGGER IF NOT EXISTS searches_created AFTER INSERT ON searches
    BEGIN UPDATE revision SET value = value + 1; END;
CREATE TRIGGER IF NOT EXISTS searches_deleted AFTER DELETE ON searches
    BEGIN UPDATE revision SET value = value + 1; END;
CREATE TRIGGER IF NOT EXISTS searches_changed AFTER UPDATE OF body ON searches
    WHEN json_extract(new.body, '$.updated_at') IS NOT json_extract(old.body, '$.updated_at')
    BEGIN UPDATE revision SET value = value + 1; END;
"""

REMEDY = (
    "Saved searches are not rebuilt from the bus: stop the API and the alerts worker and run"
    " `newsagg repair --alerts`, which moves the file aside and keeps every saved search and"
    " match still readable (docs/runbook.md)"
)
BUSY_TIMEOUT = 30.0
"""Seconds a writer waits for another process's transaction before StoreUnavailable."""
PARSED_CACHE = 20_000
"""Parsed saved searches kept by list (about 2 KB each); emptied when full."""
PRUNE_CHUNK = 5_000
"""Matches deleted per transaction by prune."""
PRUNE_IDS = 500
"""Search ids per statement (SQLite's bound parameters are limited)."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_MATCH_COLUMNS = "search_id, article_id, matched_us, delivery_id, delivered_us"


def micros(at: datetime) -> int:
    """Microseconds since the epoch; a naive datetime is taken as UTC."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return (aware - _EPOCH) // _MICROSECOND


def from_micros(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + value * _MICROSECOND


def _match(row: tuple) -> Match:
    search_id, article_id, matched_us, delivery, delivered_us = row
    return Match(
        search_id=search_id,
        article_id=article_id,
        matched_at=_EPOCH + matched_us * _MICROSECOND,
        delivery_id=delivery,
        delivered_at=from_micros(delivered_us),
    )


class SqliteAlertStore:
    """The embedded AlertStore: `sqlite:///data/alerts.sqlite`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        check_sqlite_file(path, REMEDY)
        try:
            create_whole(path, _SCHEMA)
        except (sqlite3.Error, OSError) as exc:  # a full disk or a read-only directory
            raise StoreUnavailable(f"creating the alert store {path} failed: {exc}") from exc
        with self._errors("opening the alert store"):
            self._conn = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
        self._lock = threading.Lock()
        self._bodies: dict[str, SavedSearch] = {}

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Damage is DataCorrupted (permanent); any other SQLite error StoreUnavailable."""
        try:
            yield
        except sqlite3.Error as exc:
            if is_corruption(exc):
                raise DataCorrupted(self.path, f"{what} failed: {exc}", REMEDY) from exc
            raise StoreUnavailable(f"{what} on {self.path} failed: {exc}") from exc

    @contextmanager
    def _read(self, what: str) -> Iterator[sqlite3.Connection]:
        with self._lock, self._errors(what):
            yield self._conn

    @contextmanager
    def _write(self, what: str) -> Iterator[sqlite3.Connection]:
        """One transaction holding SQLite's write lock from its start, so what it reads
        no other process changes before it commits."""
        with self._lock, self._errors(what):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def ensure_schema(self) -> None:
        """The tables are made with the file (create_whole); an older file gains what it
        lacks (every statement of the schema is IF NOT EXISTS)."""
        with self._read("creating the alert tables") as conn:
            conn.executescript(_SCHEMA)

    # -- saved searches --------------------------------------------------------

    def create(self, search: SavedSearch) -> None:
        row = (
            search.id,
            search.owner,
            search.feed_token,
            micros(search.created_at),
            search.model_dump_json(),
        )
        with self._write(f"saving {search.id}") as conn:
            try:
                conn.execute(
                    "INSERT INTO searches (id, owner, feed_token, created_us, body)"
                    " VALUES (?, ?, ?, ?, ?)",
                    row,
                )
            except sqlite3.IntegrityError as exc:
                raise ValueError(
                    f"a saved search with id {search.id} (or its feed token) exists"
                ) from exc

    def get(self, search_id: str) -> SavedSearch | None:
        return self._one("SELECT body FROM searches WHERE id = ?", search_id)

    def by_feed_token(self, token: str) -> SavedSearch | None:
        return self._one("SELECT body FROM searches WHERE feed_token = ?", token)

    def _one(self, sql: str, key: str) -> SavedSearch | None:
        with self._read("reading a saved search") as conn:
            row = conn.execute(sql, (key,)).fetchone()
        return SavedSearch.model_validate_json(row[0]) if row else None

    def list(self, owner: str | None = None) -> list[SavedSearch]:
        where, args = ("WHERE owner = ?", (owner,)) if owner is not None else ("", ())
        with self._read("listing saved searches") as conn:
            rows = conn.execute(
                f"SELECT body FROM searches {where} ORDER BY created_us, id", args
            ).fetchall()
        return [self._parsed(body) for (body,) in rows]

    def _parsed(self, body: str) -> SavedSearch:
        """The SavedSearch of a stored body, parsed once per distinct body: the alerts
        worker lists every saved search again and again, and parsing 10,000 is most of
        the time of a list (SavedSearch is frozen, so one object serves every caller)."""
        search = self._bodies.get(body)
        if search is None:
            if len(self._bodies) >= PARSED_CACHE:
                self._bodies.clear()
            search = self._bodies[body] = SavedSearch.model_validate_json(body)
        return search

    def count(self, owner: str) -> int:
        with self._read("counting saved searches") as conn:
            (count,) = conn.execute(
                "SELECT COUNT(*) FROM searches WHERE owner = ?", (owner,)
            ).fetchone()
        return int(count)

    def revision(self) -> str:
        """A counter the schema's triggers raise (one row: O(1), whatever the number of
        saved searches), with a random id of the file: a file rebuilt by `repair --alerts`
        counts from 0 again, and must not pass for the one it replaced."""
        with self._read("reading the saved searches' revision") as conn:
            file, value = conn.execute("SELECT file, value FROM revision").fetchone()
        return f"{file}:{value}"

    def update(self, search: SavedSearch) -> None:
        with self._write(f"updating {search.id}") as conn:
            cursor = conn.execute(
                "UPDATE searches SET owner = ?, feed_token = ?, created_us = ?, body = ?"
                " WHERE id = ?",
                (
                    search.owner,
                    search.feed_token,
                    micros(search.created_at),
                    search.model_dump_json(),
                    search.id,
                ),
            )
            if cursor.rowcount == 0:
                raise KeyError(search.id)

    def modify(self, search_id: str, change: Callable[[SavedSearch], SavedSearch]) -> SavedSearch:
        """Read, change and write in one write transaction: no other process writes the
        row in between, so `change` runs once."""
        with self._write(f"updating {search_id}") as conn:
            row = conn.execute("SELECT body FROM searches WHERE id = ?", (search_id,)).fetchone()
            if row is None:
                raise KeyError(search_id)
            changed = change(SavedSearch.model_validate_json(row[0]))
            if changed.id != search_id:
                raise ValueError(f"a change of {search_id} may not change its id")
            conn.execute(
                "UPDATE searches SET owner = ?, feed_token = ?, created_us = ?, body = ?"
                " WHERE id = ?",
                (
                    changed.owner,
                    changed.feed_token,
                    micros(changed.created_at),
                    changed.model_dump_json(),
                    search_id,
                ),
            )
        return changed

    def delete(self, search_id: str) -> bool:
        with self._write(f"deleting {search_id}") as conn:
            conn.execute("DELETE FROM matches WHERE search_id = ?", (search_id,))
            return conn.execute("DELETE FROM searches WHERE id = ?", (search_id,)).rowcount > 0

    # -- matches and deliveries ------------------------------------------------

    def add_matches(self, matches: Sequence[Match]) -> int:
        """Matches of a search that no longer exists (deleted while its batch was being
        matched) are not recorded: nothing would ever deliver or delete them."""
        rows = [(m.search_id, m.article_id, micros(m.matched_at), m.search_id) for m in matches]
        if not rows:
            return 0
        with self._write(f"recording {len(rows)} matches") as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO matches (search_id, article_id, matched_us)"
                " SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM searches WHERE id = ?)",
                rows,
            )
            return conn.total_changes - before

    def pending_counts(self) -> dict[str, int]:
        with self._read("counting the pending matches") as conn:
            rows = conn.execute(
                "SELECT search_id, COUNT(*) FROM matches"
                " WHERE delivered_us IS NULL GROUP BY search_id"
            ).fetchall()
        return {search_id: count for search_id, count in rows}

    def pending(self, search_id: str, limit: int = 500) -> list[Match]:
        with self._read(f"reading the pending matches of {search_id}") as conn:
            rows = conn.execute(
                f"SELECT {_MATCH_COLUMNS} FROM matches"
                " WHERE search_id = ? AND delivered_us IS NULL"
                " ORDER BY matched_us, article_id LIMIT ?",
                (search_id, limit),
            ).fetchall()
        return [_match(row) for row in rows]

    def open_delivery(self, search_id: str, limit: int = 500) -> Delivery | None:
        with self._write(f"opening a delivery of {search_id}") as conn:
            rows = conn.execute(
                f"SELECT {_MATCH_COLUMNS} FROM matches WHERE search_id = ?"
                " AND delivery_id IS NOT NULL AND delivered_us IS NULL"
                " ORDER BY matched_us, article_id",
                (search_id,),
            ).fetchall()
            if rows:  # the one opened before, not yet closed: sent again as it was
                reopened = tuple(_match(row) for row in rows)
                return Delivery(id=rows[0][3], search_id=search_id, matches=reopened)
            rows = conn.execute(
                f"SELECT {_MATCH_COLUMNS} FROM matches WHERE search_id = ?"
                " AND delivered_us IS NULL ORDER BY matched_us, article_id LIMIT ?",
                (search_id, limit),
            ).fetchall()
            if not rows:
                return None
            opened = [_match(row) for row in rows]
            new_id = delivery_id(search_id, opened[0].matched_at, [m.article_id for m in opened])
            conn.executemany(
                "UPDATE matches SET delivery_id = ? WHERE search_id = ? AND article_id = ?",
                [(new_id, search_id, m.article_id) for m in opened],
            )
        return Delivery(
            id=new_id,
            search_id=search_id,
            matches=tuple(m.model_copy(update={"delivery_id": new_id}) for m in opened),
        )

    def close_delivery(self, delivery: Delivery, at: datetime) -> None:
        """Marks only the matches still in that delivery; closing it twice is harmless."""
        with self._write(f"closing delivery {delivery.id}") as conn:
            conn.execute(
                "UPDATE matches SET delivered_us = ? WHERE search_id = ? AND delivery_id = ?"
                " AND delivered_us IS NULL",
                (micros(at), delivery.search_id, delivery.id),
            )

    def matches(
        self, search_id: str, since: datetime | None = None, limit: int = 100
    ) -> list[Match]:
        floor = micros(since) if since is not None else None
        with self._read(f"reading the matches of {search_id}") as conn:
            rows = conn.execute(
                f"SELECT {_MATCH_COLUMNS} FROM matches WHERE search_id = ?"
                " AND (? IS NULL OR matched_us >= ?)"
                " ORDER BY matched_us DESC, article_id DESC LIMIT ?",
                (search_id, floor, floor, limit),
            ).fetchall()
        return [_match(row) for row in rows]

    # -- lifecycle -------------------------------------------------------------

    def prune(self, before: datetime, undelivered_of: Sequence[str] = ()) -> int:
        """In transactions of PRUNE_CHUNK rows, so the API's writes wait for one chunk at
        most, never for the whole sweep."""
        cutoff = micros(before)
        deleted = self._delete_chunks(
            "delivered_us IS NOT NULL AND matched_us < ?", (cutoff,), "pruning delivered matches"
        )
        ids = list(dict.fromkeys(undelivered_of))
        for start in range(0, len(ids), PRUNE_IDS):
            some = ids[start : start + PRUNE_IDS]
            deleted += self._delete_chunks(
                f"search_id IN ({','.join('?' * len(some))}) AND delivery_id IS NULL"
                " AND matched_us < ?",
                (*some, cutoff),
                "pruning undeliverable matches",
            )
        return deleted

    def _delete_chunks(self, where: str, args: tuple, what: str) -> int:
        deleted = 0
        while True:
            with self._write(what) as conn:
                count = conn.execute(
                    "DELETE FROM matches WHERE rowid IN"
                    f" (SELECT rowid FROM matches WHERE {where} LIMIT {PRUNE_CHUNK})",
                    args,
                ).rowcount
            deleted += count
            if count < PRUNE_CHUNK:
                return deleted

    def health(self) -> bool:
        """Reads both tables, so a file gone bad since open is noticed (DataCorrupted)."""
        try:
            with self._lock:
                self._conn.execute("SELECT COUNT(*) FROM searches").fetchone()
                self._conn.execute("SELECT MAX(matched_us) FROM matches").fetchone()
        except sqlite3.Error as exc:
            if is_corruption(exc):
                raise DataCorrupted(self.path, f"reading it failed: {exc}", REMEDY) from exc
            return False
        return True

    def close(self) -> None:
        with self._lock:
            self._conn.close()
