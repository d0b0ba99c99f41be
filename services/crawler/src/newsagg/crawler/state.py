"""What the crawler has already published, kept across restarts (SQLite under ./data).

A link is fetched again only when its feed or sitemap says it changed (a new
lastmod / pubDate); a fetched page is published again only when its content hash
changed. So a restart does not re-crawl the world, and an updated story is not missed.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    url          TEXT PRIMARY KEY,
    version      TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    article_id   TEXT NOT NULL,
    fetched_at   REAL NOT NULL
);
"""


class CrawlState:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(
            path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def needs_fetch(self, url: str, version: str) -> bool:
        """Unknown URLs, and known ones whose listing reports a different version."""
        with self._lock:
            row = self._conn.execute("SELECT version FROM seen WHERE url = ?", (url,)).fetchone()
        return row is None or (bool(version) and row[0] != version)

    def is_unchanged(self, url: str, content_hash: str) -> bool:
        with self._lock:
            row = self._conn.execute(
                "SELECT content_hash FROM seen WHERE url = ?", (url,)
            ).fetchone()
        return row is not None and row[0] == content_hash

    def record(self, url: str, version: str, content_hash: str, article_id: str) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO seen VALUES (?, ?, ?, ?, ?)",
                (url, version, content_hash, article_id, time.time()),
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()
