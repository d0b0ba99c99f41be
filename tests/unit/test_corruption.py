"""Damage to the embedded bus, index and crawl state is found, named and never retried.

Each test damages real files the way a disk or an operator does (zero bytes, garbage
over a header, over middle pages, over a segment, a deleted meta.json) and opens them
with the real adapters.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from newsagg.core.adapters.sqlite_bus import SqliteLogBus
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.ports import ARTICLES_TOPIC, DataCorrupted
from newsagg.core.search import SearchQuery
from newsagg.core.sqlite_check import check_sqlite_file
from newsagg.indexer.worker import Indexer
from support.damage import (
    PAGE,
    article,
    drain,
    filled_index,
    full_bus,
    garbage,
    middle_page,
    segment_file,
)

# -- the bus ------------------------------------------------------------------


def test_a_missing_bus_is_a_fresh_start(tmp_path: Path):
    bus = SqliteLogBus(tmp_path / "bus.sqlite")
    assert bus.topic_size(ARTICLES_TOPIC) == 0
    bus.close()


def test_a_zero_byte_bus_is_corrupted_not_a_new_empty_log(tmp_path: Path):
    path = tmp_path / "bus.sqlite"
    path.write_bytes(b"")
    with pytest.raises(DataCorrupted, match="zero bytes") as caught:
        SqliteLogBus(path)
    assert caught.value.path == str(path)
    assert "newsagg repair --bus" in str(caught.value)
    assert path.stat().st_size == 0  # nothing was written over it


def test_garbage_over_the_bus_header_is_corrupted(tmp_path: Path):
    path = full_bus(tmp_path / "bus.sqlite")
    garbage(path, 0, 100)
    with pytest.raises(DataCorrupted, match="not a SQLite database"):
        SqliteLogBus(path)


def test_garbage_over_middle_pages_of_the_bus_fails_quick_check_at_open(tmp_path: Path):
    path = full_bus(tmp_path / "bus.sqlite")
    garbage(path, middle_page(path), 2 * PAGE)
    with pytest.raises(DataCorrupted, match=r"quick_check|cannot read") as caught:
        SqliteLogBus(path)
    assert caught.value.remedy.startswith("The bus is the log of record")


def test_damage_met_while_reading_the_bus_is_corruption_not_an_outage(tmp_path: Path):
    path = full_bus(tmp_path / "bus.sqlite")
    bus = SqliteLogBus(path)  # whole at open
    garbage(path, middle_page(path), 8 * PAGE)
    consumer = bus.consumer(ARTICLES_TOPIC, "indexer")
    with pytest.raises(DataCorrupted, match="malformed"):
        drain(consumer)
    bus.close()


def test_the_indexer_stops_on_a_corrupted_bus_instead_of_retrying_it_forever(tmp_path: Path):
    path = full_bus(tmp_path / "bus.sqlite")
    bus = SqliteLogBus(path)
    garbage(path, middle_page(path), 8 * PAGE)
    store = TantivyStore(tmp_path / "index", writable=True)
    stop = threading.Event()
    indexer = Indexer(bus, bus.consumer(ARTICLES_TOPIC, "indexer"), store, batch_size=50, stop=stop)
    timer = threading.Timer(10, stop.set)  # were it retrying, this would end the run quietly
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(DataCorrupted):
            indexer.run()
    finally:
        timer.cancel()
        store.close()
        bus.close()
    assert time.monotonic() - started < 5


def test_the_bus_publishes_with_synchronous_full_and_commits_offsets_with_normal(tmp_path: Path):
    bus = SqliteLogBus(tmp_path / "bus.sqlite")
    consumer = bus.consumer(ARTICLES_TOPIC, "indexer")
    full, normal = 2, 1  # PRAGMA synchronous values
    assert bus._conn.execute("PRAGMA synchronous").fetchone()[0] == full
    assert consumer._conn.execute("PRAGMA synchronous").fetchone()[0] == normal
    consumer.close()
    bus.close()


# -- crawl state and any SQLite file -------------------------------------------


def test_a_garbage_crawl_state_file_is_corrupted(tmp_path: Path):
    path = tmp_path / "crawler-state.sqlite"
    path.write_bytes(os.urandom(3 * PAGE))
    with pytest.raises(DataCorrupted, match="not a SQLite database") as caught:
        check_sqlite_file(path, "Run `newsagg repair --crawl-state`")
    assert str(caught.value).endswith("Run `newsagg repair --crawl-state`")


def test_a_whole_sqlite_file_and_a_missing_one_pass(tmp_path: Path):
    path = tmp_path / "state.sqlite"
    check_sqlite_file(path)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    check_sqlite_file(path)


# -- the index -----------------------------------------------------------------


def test_a_deleted_meta_json_is_corrupted_not_a_new_empty_index(tmp_path: Path):
    index = filled_index(tmp_path / "index")
    (index / "meta.json").unlink()
    writer = TantivyStore(index, writable=True)
    with pytest.raises(DataCorrupted, match=r"meta\.json is missing") as caught:
        writer.ensure_schema()
    assert "newsagg repair --index" in caught.value.remedy
    assert not (index / "meta.json").exists()  # no empty index was made over the segments
    with pytest.raises(DataCorrupted):
        TantivyStore(index, writable=False).count()


def test_an_unreadable_meta_json_is_corrupted(tmp_path: Path):
    index = filled_index(tmp_path / "index")
    (index / "meta.json").write_bytes(os.urandom(600))
    with pytest.raises(DataCorrupted, match=r"meta\.json is not a valid"):
        TantivyStore(index, writable=False).count()


@pytest.mark.parametrize("part", ["store", "term", "idx", "fast"])
def test_garbage_over_a_segment_file_is_found_at_open(tmp_path: Path, part: str):
    index = filled_index(tmp_path / "index")
    damaged = segment_file(index, part)
    size = damaged.stat().st_size
    garbage(damaged, max(0, size // 2 - PAGE // 2), min(PAGE, size // 2))
    with pytest.raises(DataCorrupted, match="CRC-32") as caught:
        TantivyStore(index, writable=False).count()
    assert caught.value.path == str(damaged)
    with pytest.raises(DataCorrupted):
        TantivyStore(index, writable=True).ensure_schema()


def test_garbage_over_a_segment_while_the_api_reads_is_found_at_the_next_reload(
    tmp_path: Path,
):
    index = filled_index(tmp_path / "index")
    reader = TantivyStore(index, writable=False, reload_interval=0.0)
    assert reader.count() == 40
    assert reader.health()
    time.sleep(0.01)  # a later mtime, as any real write would have
    garbage(segment_file(index, "store"), 0)
    with pytest.raises(DataCorrupted, match=r"\.store is corrupted"):
        reader.health()
    with pytest.raises(DataCorrupted):
        list(reader.scan(SearchQuery()))


def test_a_whole_index_with_deletes_passes_and_is_not_reread(tmp_path: Path):
    index = filled_index(tmp_path / "index")
    writer = TantivyStore(index, writable=True)
    writer.upsert([article(1).model_copy(update={"crawled_at": datetime(2026, 9, 7, tzinfo=UTC)})])
    writer.close()
    assert list(index.glob("*.del"))
    reader = TantivyStore(index, writable=False, reload_interval=0.0)
    assert reader.count() == 40
    assert len(reader._check._whole) == 3 * 6 + 1  # three segments and one delete file


def test_the_indexer_stops_on_a_damaged_index_instead_of_retrying_it_forever(tmp_path: Path):
    index = filled_index(tmp_path / "index")
    garbage(segment_file(index, "idx"), 0, 256)
    bus = SqliteLogBus(tmp_path / "bus.sqlite")
    bus.publish(ARTICLES_TOPIC, article(1).id, article(1).to_json())
    consumer = bus.consumer(ARTICLES_TOPIC, "indexer")
    indexer = Indexer(bus, consumer, TantivyStore(index, writable=True), max_retry_delay=0.05)
    try:
        with pytest.raises(DataCorrupted, match=r"\.idx is corrupted"):
            indexer.run()
        assert bus.group_lag(ARTICLES_TOPIC, "indexer") == {0: 1}  # nothing committed
    finally:
        consumer.close()
        bus.close()
