"""SqliteLogBus: the embedded Bus, a durable append-only log in one SQLite file (WAL).

One partition per topic; the offset is the row's sequence number. A consumer
group on a topic has one active member at a time (a lease, like a Kafka group
with one partition): others wait on standby and take over when the member stops,
dies (its pid is gone) or misses heartbeats for `session_timeout` seconds.
Offsets are committed only when the caller says so, and never move backwards.

Durability: publishing runs with `synchronous=FULL`, so a message is on disk
(fsync of the WAL) before `publish` returns and survives power loss, as the
crawler's "done only once the bus has it" needs. Consumers' offset commits run
with `synchronous=NORMAL`: power loss may undo the last commits, which only
delivers those messages again (upserts are idempotent).

Damage is not an outage: an existing file that is empty, foreign or fails
`PRAGMA quick_check` is refused at open, and SQLITE_CORRUPT/NOTADB met while
reading raise DataCorrupted (never BusUnavailable, which callers retry).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from newsagg.core.ports import BusUnavailable, DataCorrupted, GroupActive, Message
from newsagg.core.sqlite_check import check_sqlite_file, create_whole, is_corruption

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    topic    TEXT NOT NULL,
    key      TEXT,
    value    BLOB NOT NULL,
    headers  TEXT NOT NULL,
    ts       REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_topic ON messages (topic, seq);
CREATE TABLE IF NOT EXISTS group_offsets (
    grp       TEXT NOT NULL,
    topic     TEXT NOT NULL,
    committed INTEGER NOT NULL,
    PRIMARY KEY (grp, topic)
);
CREATE TABLE IF NOT EXISTS group_members (
    grp       TEXT NOT NULL,
    topic     TEXT NOT NULL,
    member    TEXT NOT NULL,
    host      TEXT NOT NULL,
    pid       INTEGER NOT NULL,
    heartbeat REAL NOT NULL,
    PRIMARY KEY (grp, topic)
);
"""

_PARTITION = 0
REMEDY = (
    "The bus is the log of record: stop the services and run `newsagg repair --bus`,"
    " which salvages what it can (docs/runbook.md)"
)


def _failure(path: Path, exc: sqlite3.Error, what: str) -> Exception:
    """Damage is DataCorrupted (permanent); anything else BusUnavailable (retry)."""
    if is_corruption(exc):
        return DataCorrupted(path, f"{what} failed: {exc}", REMEDY)
    return BusUnavailable(f"{what} on {path} failed: {exc}")


@contextmanager
def _errors(path: Path, what: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise _failure(path, exc, what) from exc


def _connect(path: Path, synchronous: str) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    with _errors(path, "opening the bus log"):
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.executescript(_SCHEMA)
    return conn


def _lease_live(host: str, pid: int, heartbeat: float, session_timeout: float) -> bool:
    """A member holds the lease until it leaves, misses heartbeats, or its pid is gone."""
    if time.time() - heartbeat > session_timeout:
        return False
    return host != socket.gethostname() or _pid_alive(pid)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SqliteLogBus:
    """The embedded Bus: `sqlite:///data/bus.sqlite`."""

    def __init__(self, path: Path, *, session_timeout: float = 10.0) -> None:
        self.path = path
        self.session_timeout = session_timeout
        check_sqlite_file(path, REMEDY)
        try:
            create_whole(path, _SCHEMA)
        except (sqlite3.Error, OSError) as exc:  # a full disk or a read-only directory: later
            raise BusUnavailable(f"creating the bus log {path} failed: {exc}") from exc
        self._conn = _connect(path, "FULL")
        self._lock = threading.Lock()

    def publish(
        self, topic: str, key: str | None, value: bytes, headers: Mapping[str, str] | None = None
    ) -> None:
        row = (topic, key, value, json.dumps(dict(headers or {})), time.time())
        with self._lock, _errors(self.path, f"appending to {topic!r}"):
            self._conn.execute(
                "INSERT INTO messages (topic, key, value, headers, ts) VALUES (?, ?, ?, ?, ?)",
                row,
            )

    def flush(self) -> None:
        """Each publish is its own transaction, synced to disk, so there is nothing to wait for."""

    def consumer(self, topic: str, group: str) -> SqliteLogConsumer:
        return SqliteLogConsumer(self.path, topic, group, self.session_timeout)

    def topic_size(self, topic: str) -> int:
        with self._lock, _errors(self.path, f"counting {topic!r}"):
            (count,) = self._conn.execute(
                "SELECT COUNT(*) FROM messages WHERE topic = ?", (topic,)
            ).fetchone()
        return int(count)

    def group_lag(self, topic: str, group: str) -> dict[int, int]:
        with self._lock, _errors(self.path, f"reading the lag of {group!r}"):
            (count,) = self._conn.execute(
                "SELECT COUNT(*) FROM messages WHERE topic = ? AND seq >"
                " COALESCE((SELECT committed FROM group_offsets WHERE grp = ? AND topic = ?), 0)",
                (topic, group, topic),
            ).fetchone()
        return {_PARTITION: int(count)}

    def rewind(self, topic: str, group: str, since: datetime | None) -> dict[int, int]:
        """Set the group's committed offset back, in one transaction with the member check.

        The one place a committed offset moves backwards, so it refuses while a member
        holds the group's lease (a live member's next commit would be mixed with the replay).
        """
        with self._lock, _errors(self.path, f"rewinding {group!r}"):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                member = self._conn.execute(
                    "SELECT host, pid, heartbeat FROM group_members WHERE grp = ? AND topic = ?",
                    (group, topic),
                ).fetchone()
                if member and _lease_live(*member, self.session_timeout):
                    raise GroupActive(
                        f"group {group!r} on {topic!r} has a running member"
                        f" (pid {member[1]} on {member[0]}); stop it first"
                    )
                cutoff = since.timestamp() if since else float("-inf")
                (first,) = self._conn.execute(
                    "SELECT MIN(seq) FROM messages WHERE topic = ? AND ts >= ?", (topic, cutoff)
                ).fetchone()
                if first is None:  # nothing that recent: the group is at the end
                    (last,) = self._conn.execute(
                        "SELECT COALESCE(MAX(seq), 0) FROM messages WHERE topic = ?", (topic,)
                    ).fetchone()
                    committed = int(last)
                else:
                    committed = int(first) - 1
                self._conn.execute(
                    "INSERT OR REPLACE INTO group_offsets (grp, topic, committed) VALUES (?, ?, ?)",
                    (group, topic, committed),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return self.group_lag(topic, group)

    def health(self) -> bool:
        """Reads the newest message, so a log that has gone bad since open is noticed."""
        try:
            with self._lock:
                self._conn.execute("SELECT MAX(seq) FROM messages").fetchone()
        except sqlite3.Error as exc:
            if is_corruption(exc):
                raise _failure(self.path, exc, "reading the log") from exc
            return False
        return True

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class SqliteLogConsumer:
    """One member of a consumer group on one topic of a SqliteLogBus."""

    def __init__(self, path: Path, topic: str, group: str, session_timeout: float) -> None:
        self.topic = topic
        self.group = group
        self.session_timeout = session_timeout
        self.path = path
        self.member = uuid.uuid4().hex
        self._host = socket.gethostname()
        self._conn = _connect(path, "NORMAL")
        self._position: int | None = None  # last seq handed out; None until we hold the lease
        self._renewed = 0.0  # monotonic time of our last heartbeat

    def _committed(self) -> int:
        row = self._conn.execute(
            "SELECT committed FROM group_offsets WHERE grp = ? AND topic = ?",
            (self.group, self.topic),
        ).fetchone()
        return int(row[0]) if row else 0

    def _hold_lease(self) -> bool:
        """Take or renew the group's lease; on taking it, restart from the committed offset.

        Nobody can take a lease whose heartbeat is younger than session_timeout, so a
        holder renews only every third of it instead of writing on every poll.
        """
        if self._position is not None and (
            time.monotonic() - self._renewed < self.session_timeout / 3
        ):
            return True
        now = time.time()
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            row = self._conn.execute(
                "SELECT member, host, pid, heartbeat FROM group_members"
                " WHERE grp = ? AND topic = ?",
                (self.group, self.topic),
            ).fetchone()
            free = (
                row is None
                or row[0] == self.member
                or now - row[3] > self.session_timeout
                or (row[1] == self._host and not _pid_alive(row[2]))
            )
            if free:
                self._conn.execute(
                    "INSERT OR REPLACE INTO group_members VALUES (?, ?, ?, ?, ?, ?)",
                    (self.group, self.topic, self.member, self._host, os.getpid(), now),
                )
                if row is None or row[0] != self.member or self._position is None:
                    self._position = self._committed()
                self._renewed = time.monotonic()
            else:
                self._position = None
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return free

    def poll(self, max_messages: int, timeout: float) -> list[Message]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self._hold_lease():
                    rows = self._conn.execute(
                        "SELECT seq, key, value, headers, ts FROM messages"
                        " WHERE topic = ? AND seq > ? ORDER BY seq LIMIT ?",
                        (self.topic, self._position, max_messages),
                    ).fetchall()
                    if rows:
                        self._position = rows[-1][0]
                        return [self._message(*row) for row in rows]
            except sqlite3.Error as exc:
                raise _failure(self.path, exc, f"reading {self.topic!r}") from exc
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            time.sleep(min(0.1, remaining))

    def _message(self, seq: int, key: str | None, value: bytes, headers: str, ts: float) -> Message:
        return Message(
            topic=self.topic,
            partition=_PARTITION,
            offset=seq,
            key=key,
            value=bytes(value),
            headers=json.loads(headers),
            timestamp=datetime.fromtimestamp(ts, UTC),
        )

    def commit(self, messages: Sequence[Message]) -> None:
        """Record the highest offset given; a committed offset never moves backwards."""
        if not messages:
            return
        last = max(message.offset for message in messages)
        with _errors(self.path, f"committing {self.topic!r}@{last}"):
            self._conn.execute(
                "INSERT INTO group_offsets (grp, topic, committed) VALUES (?, ?, ?)"
                " ON CONFLICT (grp, topic) DO UPDATE"
                " SET committed = MAX(committed, excluded.committed)",
                (self.group, self.topic, last),
            )

    def lag(self) -> dict[int, int]:
        with _errors(self.path, f"reading the lag of {self.group!r}"):
            (count,) = self._conn.execute(
                "SELECT COUNT(*) FROM messages WHERE topic = ? AND seq > ?",
                (self.topic, self._committed()),
            ).fetchone()
        return {_PARTITION: int(count)}

    def close(self) -> None:
        """Leave the group at once, so a standby member need not wait for the timeout."""
        try:
            self._conn.execute(
                "DELETE FROM group_members WHERE grp = ? AND topic = ? AND member = ?",
                (self.group, self.topic, self.member),
            )
        finally:
            self._conn.close()
