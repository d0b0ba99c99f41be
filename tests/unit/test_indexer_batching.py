"""The indexer closes a batch by size or by time, whichever comes first (issue 16):
over the real embedded bus and index, as `newsagg index` runs them."""

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from newsagg.core.adapters.sqlite_bus import SqliteLogBus
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.article import Article
from newsagg.core.ports import ARTICLES_TOPIC
from newsagg.indexer.worker import Indexer
from support.servers import wait_until


def article(n: int) -> Article:
    return Article.create(
        url=f"https://s.example/{n}",
        source="s",
        title=f"Story {n}",
        text=f"Body of story {n}.",
        crawled_at=datetime(2026, 9, 6, tzinfo=UTC),
    )


def publish(bus: SqliteLogBus, *numbers: int) -> None:
    for n in numbers:
        a = article(n)
        bus.publish(ARTICLES_TOPIC, a.id, a.to_json())


def indexer(tmp_path: Path, *, batch_size: int, batch_wait: float) -> tuple[SqliteLogBus, Indexer]:
    bus = SqliteLogBus(tmp_path / "bus.sqlite")
    store = TantivyStore(tmp_path / "index", writable=True)
    store.ensure_schema()
    consumer = bus.consumer(ARTICLES_TOPIC, "indexer")
    return bus, Indexer(bus, consumer, store, batch_size=batch_size, batch_wait=batch_wait)


def test_a_lone_article_is_searchable_without_a_full_batch(tmp_path):
    bus, worker = indexer(tmp_path, batch_size=200, batch_wait=0.3)
    runner = threading.Thread(target=worker.run)
    runner.start()
    try:
        publish(bus, 1)
        reader = TantivyStore(tmp_path / "index", writable=False, reload_interval=0)
        wait_until(lambda: reader.get(article(1).id), 30, "the lone article searchable")
        assert bus.group_lag(ARTICLES_TOPIC, "indexer") == {0: 0}
    finally:
        worker.stop.set()
        runner.join(30)


def test_a_batch_waits_for_more_messages_until_its_time_is_up(tmp_path):
    bus, worker = indexer(tmp_path, batch_size=200, batch_wait=0.5)
    publish(bus, 1)
    first = worker.consumer.poll(200, timeout=1)
    threading.Timer(0.1, publish, args=(bus, 2, 3)).start()
    started = time.monotonic()
    batch = worker._fill(first)
    assert time.monotonic() - started >= 0.5
    assert [m.key for m in batch] == [article(n).id for n in (1, 2, 3)]


def test_a_full_batch_does_not_wait(tmp_path):
    bus, worker = indexer(tmp_path, batch_size=3, batch_wait=60)
    publish(bus, 1)
    first = worker.consumer.poll(3, timeout=1)
    threading.Timer(0.1, publish, args=(bus, 2, 3, 4)).start()
    batch = worker._fill(first)
    assert [m.key for m in batch] == [article(n).id for n in (1, 2, 3)]
