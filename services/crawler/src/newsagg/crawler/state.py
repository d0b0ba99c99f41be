"""What the crawler has already published, kept across restarts (SQLite under ./data).

A link is fetched again only when a feed or sitemap reports a newer date for it
than any seen before (lastmod, updated, pubDate: a feed and a sitemap may list
the same story with different dates); a fetched page is published again only
when its content hash changed. So a restart does not re-crawl the world, and an
updated story is not missed.

Feeds and sitemaps keep their HTTP validators (ETag, Last-Modified) here too, so
the next pass asks "anything new?" with a conditional GET and a 304 costs nothing.
Per source it keeps when a listing last answered and the errors of its last pass, so
`newsagg status` can tell a source's health while the crawler is down.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from newsagg.core.sqlite_check import check_sqlite_file, create_whole

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    url          TEXT PRIMARY KEY,
    stamp        REAL,
    content_hash TEXT NOT NULL,
    article_id   TEXT NOT NULL,
    fetched_at   REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS listings (
    url           TEXT PRIMARY KEY,
    etag          TEXT,
    last_modified TEXT,
    fetched_at    REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS source_passes (
    source       TEXT PRIMARY KEY,
    last_pass_at REAL NOT NULL,
    errors       INTEGER NOT NULL,
    last_success REAL
);
CREATE TABLE IF NOT EXISTS websub (
    topic         TEXT PRIMARY KEY,
    source        TEXT NOT NULL,
    hub           TEXT NOT NULL,
    token         TEXT NOT NULL UNIQUE,
    secret        TEXT NOT NULL,
    status        TEXT NOT NULL,
    requested_at  REAL NOT NULL,
    lease_seconds INTEGER,
    expires_at    REAL
);
"""


@dataclass(frozen=True)
class SourcePass:
    """A source's last pass, as the crawl state keeps it."""

    last_pass_at: float
    errors: int
    """Failed articles and listings in the last pass."""
    last_success: float | None
    """Unix time one of its listings last answered (ok or 304), in any pass."""


@dataclass(frozen=True)
class WebSubSubscription:
    """A WebSub subscription to `topic` at `hub`, as the crawl state keeps it, so a
    restarted crawler still answers the hub at the same callback with the same secret."""

    topic: str
    source: str
    hub: str
    token: str
    """The callback's last path segment: unguessable, one per topic."""
    secret: str
    status: str
    """requested (sent, not yet verified), active (verified), denied (by the hub)."""
    requested_at: float
    lease_seconds: int | None = None
    expires_at: float | None = None
    """Unix time the hub's lease ends (set at verification)."""


CORRUPTED_REMEDY = (
    "Stop the crawler and run `newsagg repair --crawl-state`: it rebuilds the crawl state"
    " from the index (docs/runbook.md)"
)


_RECORD = (
    "INSERT INTO seen VALUES (?, ?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET"
    " stamp = MAX(COALESCE(stamp, 0), COALESCE(excluded.stamp, 0)),"
    " content_hash = excluded.content_hash, article_id = excluded.article_id,"
    " fetched_at = excluded.fetched_at"
)


NO_CONTENT = ""
"""content_hash and article_id of a dead end (the columns are NOT NULL since the start)."""


class CrawlState:
    def __init__(self, path: Path) -> None:
        """Opens (or creates) the state; a damaged file raises DataCorrupted, never a
        silent fresh start that would re-publish everything."""
        check_sqlite_file(path, CORRUPTED_REMEDY)
        create_whole(path, _SCHEMA)  # `newsagg status` may open it while the crawler starts
        self._conn = sqlite3.connect(
            path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def needs_fetch(self, url: str, stamp: datetime | None) -> bool:
        """Unknown URLs, and known ones whose listing reports a newer date than seen."""
        with self._lock:
            row = self._conn.execute("SELECT stamp FROM seen WHERE url = ?", (url,)).fetchone()
        if row is None:
            return True
        return stamp is not None and (row[0] is None or stamp.timestamp() > row[0])

    def raise_stamp(self, url: str, stamp: datetime | None) -> None:
        """A listing reported a newer date for a URL already recorded in this pass."""
        if stamp is not None:
            with self._lock:
                self._conn.execute(
                    "UPDATE seen SET stamp = MAX(COALESCE(stamp, 0), ?) WHERE url = ?",
                    (stamp.timestamp(), url),
                )

    def is_unchanged(self, url: str, content_hash: str) -> bool:
        with self._lock:
            row = self._conn.execute(
                "SELECT content_hash FROM seen WHERE url = ?", (url,)
            ).fetchone()
        return row is not None and row[0] == content_hash

    def record(self, url: str, stamp: datetime | None, content_hash: str, article_id: str) -> None:
        self.record_many([(url, stamp, content_hash, article_id)])

    def record_many(self, rows: Iterable[tuple[str, datetime | None, str, str]]) -> None:
        """`record` for several pages (url, stamp, content_hash, article_id) in one
        transaction: one sync of the file for a burst of pages, not one per page."""
        now = time.time()
        values = [
            (url, stamp.timestamp() if stamp else None, content_hash, article_id, now)
            for url, stamp, content_hash, article_id in rows
        ]
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany(_RECORD, values)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def record_dead_end(self, url: str, stamp: datetime | None) -> None:
        """A page that holds no article or failed for good: no hash, no id."""
        self.record(url, stamp, NO_CONTENT, NO_CONTENT)

    def validators(self, listing_url: str) -> tuple[str | None, str | None]:
        """(ETag, Last-Modified) the listing sent when it was last read in full."""
        with self._lock:
            row = self._conn.execute(
                "SELECT etag, last_modified FROM listings WHERE url = ?", (listing_url,)
            ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def save_validators(
        self, listing_url: str, etag: str | None, last_modified: str | None
    ) -> None:
        if not etag and not last_modified:
            self.forget_validators(listing_url)
            return
        with self._lock:
            self._conn.execute(
                "INSERT INTO listings VALUES (?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET"
                " etag = excluded.etag, last_modified = excluded.last_modified,"
                " fetched_at = excluded.fetched_at",
                (listing_url, etag, last_modified, time.time()),
            )

    def forget_validators(self, listing_url: str) -> None:
        """The next pass reads the listing in full (a link in it failed for now)."""
        with self._lock:
            self._conn.execute("DELETE FROM listings WHERE url = ?", (listing_url,))

    def record_pass(self, source: str, errors: int, last_success: float | None) -> None:
        """The end of a pass over `source`; a pass in which no listing answered keeps the
        previous success time."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO source_passes VALUES (?, ?, ?, ?) ON CONFLICT (source) DO UPDATE SET"
                " last_pass_at = excluded.last_pass_at, errors = excluded.errors,"
                " last_success = COALESCE(excluded.last_success, last_success)",
                (source, time.time(), errors, last_success),
            )

    def source_passes(self) -> dict[str, SourcePass]:
        with self._lock:
            rows = self._conn.execute("SELECT * FROM source_passes").fetchall()
        return {row[0]: SourcePass(row[1], row[2], row[3]) for row in rows}

    def save_subscription(self, subscription: WebSubSubscription) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO websub VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    subscription.topic,
                    subscription.source,
                    subscription.hub,
                    subscription.token,
                    subscription.secret,
                    subscription.status,
                    subscription.requested_at,
                    subscription.lease_seconds,
                    subscription.expires_at,
                ),
            )

    def subscriptions(self) -> dict[str, WebSubSubscription]:
        """Every WebSub subscription, by callback token."""
        with self._lock:
            rows = self._conn.execute("SELECT * FROM websub").fetchall()
        return {row[3]: WebSubSubscription(*row) for row in rows}

    def forget_articles(self, article_ids: Iterable[str]) -> int:
        """Drop the rows of these articles (`newsagg purge`); returns how many listed URLs
        were forgotten. Rows are keyed by listed URL, so one article may have several."""
        ids = list(dict.fromkeys(article_ids))
        forgotten = 0
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                for start in range(0, len(ids), 500):  # under SQLite's bound-variable limit
                    chunk = ids[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    cursor = self._conn.execute(
                        f"DELETE FROM seen WHERE article_id IN ({marks})", chunk
                    )
                    forgotten += cursor.rowcount
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        return forgotten

    def close(self) -> None:
        with self._lock:
            self._conn.close()
