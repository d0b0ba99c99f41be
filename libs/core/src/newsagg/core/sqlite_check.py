"""Is this SQLite file whole? Checked before a service trusts (or replaces) it.

`sqlite3.connect` on a zero-byte or foreign file does not fail: it quietly makes a new
empty database over it, and a damaged page only shows up when a query reads it
("database disk image is malformed"). Both must surface as DataCorrupted, with
the command that repairs the file, never as an empty start or an outage retried
forever. Used by the embedded bus, the crawl state and `newsagg check`.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing, suppress
from pathlib import Path

from newsagg.core.ports import DataCorrupted

SQLITE_HEADER = b"SQLite format 3\x00"
REPORTED_PROBLEMS = 3
"""quick_check lists every damaged page; the first few say enough."""
DEFAULT_REMEDY = "Run `newsagg check` and see docs/runbook.md for the repair"
_CORRUPTION_CODES = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}


def check_sqlite_file(path: Path, remedy: str = DEFAULT_REMEDY) -> None:
    """Raise DataCorrupted if the file at `path` exists but is not a whole SQLite database.

    A missing file is a fresh start and passes. Checks, cheapest first: zero bytes, the
    16-byte SQLite header, then `PRAGMA quick_check` (every page and record is read,
    so it costs a read of the whole file; it skips the slower index-content
    cross-checks of `integrity_check`). Read-only: the file is never changed.
    """
    if not path.exists():
        return
    if path.stat().st_size == 0:
        raise DataCorrupted(path, "it is zero bytes long, not a SQLite database", remedy)
    with path.open("rb") as file:
        header = file.read(len(SQLITE_HEADER))
    if header != SQLITE_HEADER:
        raise DataCorrupted(
            path, f"it is not a SQLite database (its header is {header[:16]!r})", remedy
        )
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if is_corruption(exc):
            raise DataCorrupted(path, f"SQLite cannot read it ({exc})", remedy) from exc
        raise
    problems = [str(row[0]) for row in rows if row[0] != "ok"]
    if problems:
        shown = "; ".join(problems[:REPORTED_PROBLEMS])
        more = len(problems) - REPORTED_PROBLEMS
        suffix = f" (and {more} more)" if more > 0 else ""
        raise DataCorrupted(path, f"PRAGMA quick_check found damage: {shown}{suffix}", remedy)


def create_whole(path: Path, schema: str) -> None:
    """Make the database at `path` with `schema` (WAL mode) unless it exists, atomically.

    sqlite3.connect creates a zero-byte file before it writes the first page, so a
    process that opens the file in that instant (the crawler, indexer and API of
    `newsagg up` start together on an empty data directory) would see "zero bytes,
    corrupted". The database is built under a private name and linked into place, so
    `path` holds a whole database or nothing; a link that finds `path` taken lost a race
    to another process's whole one.
    """
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.new-{os.getpid()}")
    try:
        with closing(sqlite3.connect(draft, isolation_level=None)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(schema)
        with suppress(FileExistsError):
            os.link(draft, path)
    finally:
        for leftover in (
            draft,
            draft.with_name(f"{draft.name}-wal"),
            draft.with_name(f"{draft.name}-shm"),
        ):
            leftover.unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def is_corruption(exc: sqlite3.Error) -> bool:
    """SQLITE_CORRUPT ("database disk image is malformed") or SQLITE_NOTADB, any variant."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _CORRUPTION_CODES
    message = str(exc)
    return "malformed" in message or "not a database" in message
