"""Real bus logs and indexes, and the damage tests do to them (tests of issue 12)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from newsagg.core.adapters.sqlite_bus import SqliteLogBus
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.article import Article
from newsagg.core.ports import ARTICLES_TOPIC, Consumer

PAGE = 4096


def article(n: int) -> Article:
    return Article.create(
        url=f"https://s.example/{n}",
        source="s",
        title=f"Story {n}",
        text=f"Body of story {n}. " + "More words about the story. " * 60,
        crawled_at=datetime(2026, 9, 6, tzinfo=UTC),
    )


def full_bus(path: Path, messages: int = 200) -> Path:
    """A bus log of a few hundred KB, checkpointed into the main file (the WAL is gone)."""
    bus = SqliteLogBus(path)
    for n in range(messages):
        a = article(n)
        bus.publish(ARTICLES_TOPIC, a.id, a.to_json())
    bus.close()
    assert not Path(f"{path}-wal").exists()
    return path


def drain(consumer: Consumer) -> None:
    """Read and commit the whole topic, as the indexer does."""
    while batch := consumer.poll(50, timeout=0):
        consumer.commit(batch)


def garbage(path: Path, offset: int, size: int = PAGE) -> None:
    """Random bytes over part of a file, as a bad sector or a stray write leaves it."""
    with path.open("r+b") as file:
        file.seek(offset)
        file.write(os.urandom(size))


def filled_index(path: Path, batches: int = 2) -> Path:
    """A tantivy index of 20 articles per batch, one segment per batch."""
    store = TantivyStore(path, writable=True)
    store.ensure_schema()
    for b in range(batches):
        store.upsert([article(n) for n in range(b * 20, (b + 1) * 20)])
    store.close()
    return path


def segment_file(index: Path, part: str) -> Path:
    """The first segment's file of one kind (store, term, idx, fast, ...)."""
    return sorted(index.glob(f"*.{part}"))[0]


def middle_page(path: Path) -> int:
    """The offset of a page in the middle of a SQLite file: message data, not the schema."""
    return (path.stat().st_size // PAGE // 2) * PAGE
