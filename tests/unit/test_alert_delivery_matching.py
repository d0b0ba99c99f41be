"""The alerts worker's matching loop on real parts (SQLite log, tantivy index, SQLite alert
store, the tantivy matcher): it matches what the store holds, waits for the indexer, skips
only what the indexer went past without storing, and commits after recording."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from newsagg.alerts.metrics import REGISTRY
from newsagg.alerts.worker import MatchingWorker
from newsagg.core.adapters import open_matcher, open_store
from newsagg.core.adapters.sqlite_alerts import SqliteAlertStore
from newsagg.core.adapters.sqlite_bus import SqliteLogBus
from newsagg.core.alerts.model import SavedSearch
from newsagg.core.article import Article
from newsagg.core.consuming import Stopped
from newsagg.core.ports import ARTICLES_TOPIC, SearchStore

CRAWLED = datetime(2026, 11, 30, 9, tzinfo=UTC)


def article(slug: str, title: str, crawled_at: datetime = CRAWLED) -> Article:
    return Article.create(
        url=f"https://news.example/{slug}",
        source="news-example",
        title=title,
        text=f"{title}. The whole story of {slug}.",
        crawled_at=crawled_at,
    )


@dataclass
class Parts:
    bus: SqliteLogBus
    writer: SearchStore
    reader: SearchStore
    alerts: SqliteAlertStore
    woken: list[str]
    stop: threading.Event

    def worker(self, skip_grace: float = 0.2) -> MatchingWorker:
        return MatchingWorker(
            self.bus,
            self.bus.consumer(ARTICLES_TOPIC, "alerts"),
            self.reader,
            self.alerts,
            open_matcher(self.reader),
            batch_size=50,
            batch_wait=0,
            stop=self.stop,
            on_matched=self.woken.extend,
            skip_grace=skip_grace,
        )

    def publish(self, *articles: Article) -> None:
        for item in articles:
            self.bus.publish(ARTICLES_TOPIC, item.id, item.to_json())

    def lag(self, group: str = "alerts") -> int:
        return sum(self.bus.group_lag(ARTICLES_TOPIC, group).values())


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[Parts]:
    bus = SqliteLogBus(tmp_path / "bus.sqlite")
    writer = open_store(f"tantivy:///{tmp_path / 'index'}", writable=True)
    writer.ensure_schema()
    reader = open_store(f"tantivy:///{tmp_path / 'index'}", writable=False)
    alerts = SqliteAlertStore(tmp_path / "alerts.sqlite")
    yield Parts(bus, writer, reader, alerts, [], threading.Event())
    for closing in (alerts, reader, writer, bus):
        closing.close()


def run_batch(worker: MatchingWorker) -> None:
    worker.process(worker.consumer.poll(50, timeout=1.0))


def test_a_batch_waits_for_the_store_then_is_matched_recorded_and_committed(parts: Parts):
    search = SavedSearch(name="bikes", q="cycling")
    paused = SavedSearch(name="paused bikes", q="cycling", paused=True)
    other = SavedSearch(name="boats", q="sailing")
    for made in (search, paused, other):
        parts.alerts.create(made)
    older = article("a", "Old news", CRAWLED - timedelta(days=1))
    parts.writer.upsert([older])  # the store holds an older crawl: not yet this one
    fresh = article("a", "Cycling through Goa")
    parts.publish(fresh)
    worker = parts.worker()
    batch = threading.Thread(target=run_batch, args=(worker,))
    batch.start()
    time.sleep(0.5)
    assert batch.is_alive()  # waiting for the indexer
    assert parts.alerts.pending(search.id) == []
    written = datetime.now(UTC)
    parts.writer.upsert([fresh])
    batch.join(timeout=10)
    assert not batch.is_alive()
    [match] = parts.alerts.pending(search.id)
    assert match.article_id == fresh.id
    assert match.matched_at >= written  # when the worker first saw it stored
    assert [m.article_id for m in parts.alerts.pending(paused.id)] == [fresh.id]
    assert parts.alerts.pending(other.id) == []
    assert sorted(parts.woken) == sorted([search.id, paused.id])
    assert parts.lag() == 0


def test_an_article_the_indexer_went_past_without_storing_is_skipped(parts: Parts):
    search = SavedSearch(name="bikes", q="cycling")
    parts.alerts.create(search)
    stored, refused = article("a", "Cycling in Goa"), article("b", "Cycling in Pune")
    parts.publish(stored, refused)
    parts.writer.upsert([stored])
    indexer = parts.bus.consumer(ARTICLES_TOPIC, "indexer")
    indexer.commit(indexer.poll(10, timeout=1.0))  # it went past both (dead-lettered b)
    indexer.close()
    skipped = REGISTRY.get_sample_value("newsagg_alerts_skipped_total") or 0.0
    run_batch(parts.worker(skip_grace=0.2))
    assert [m.article_id for m in parts.alerts.pending(search.id)] == [stored.id]
    assert REGISTRY.get_sample_value("newsagg_alerts_skipped_total") == skipped + 1
    assert parts.lag() == 0


def test_an_article_the_indexer_has_not_reached_is_waited_for_not_skipped(parts: Parts):
    search = SavedSearch(name="bikes", q="cycling")
    parts.alerts.create(search)
    parts.publish(article("a", "Cycling in Goa"))
    worker = parts.worker(skip_grace=0.0)
    outcome: list[BaseException] = []

    def batch() -> None:
        try:
            run_batch(worker)
        except Stopped as exc:
            outcome.append(exc)

    thread = threading.Thread(target=batch)
    thread.start()
    time.sleep(1.5)
    assert thread.is_alive()
    parts.stop.set()
    thread.join(timeout=10)
    assert outcome  # stopped while waiting: the batch is left uncommitted
    assert parts.lag() == 1
    assert parts.alerts.pending(search.id) == []


def test_a_message_that_is_not_an_article_is_skipped_and_committed(parts: Parts):
    search = SavedSearch(name="bikes", q="cycling")
    parts.alerts.create(search)
    good = article("a", "Cycling in Goa")
    parts.bus.publish(ARTICLES_TOPIC, "poison", b'{"title": "no id"}')
    parts.publish(good)
    parts.writer.upsert([good])
    run_batch(parts.worker())
    assert [m.article_id for m in parts.alerts.pending(search.id)] == [good.id]
    assert parts.lag() == 0
    assert parts.bus.topic_size(f"{ARTICLES_TOPIC}.dlq") == 0  # the indexer dead-letters it


def test_matching_again_after_a_crash_records_nothing_twice(parts: Parts):
    search = SavedSearch(name="bikes", q="cycling")
    parts.alerts.create(search)
    item = article("a", "Cycling in Goa")
    parts.writer.upsert([item])
    parts.publish(item, item)  # a re-delivery, as after a kill before the commit
    run_batch(parts.worker())
    assert len(parts.alerts.pending(search.id)) == 1
    assert parts.lag() == 0


def test_a_worker_started_before_the_index_exists_waits_for_it_without_an_outage(
    tmp_path: Path,
):
    """A new pipeline's alerts worker may poll before the indexer created the index: that
    is waiting for the indexer, not a store outage (the retries counter feeds a critical
    alert), and the batch is matched once the index holds it."""
    bus = SqliteLogBus(tmp_path / "bus.sqlite")
    reader = open_store(f"tantivy:///{tmp_path / 'index'}", writable=False)
    alerts = SqliteAlertStore(tmp_path / "alerts.sqlite")
    parts = Parts(bus, reader, reader, alerts, [], threading.Event())
    search = SavedSearch(name="bikes", q="cycling")
    alerts.create(search)
    fresh = article("a", "Cycling through Goa")
    parts.publish(fresh)
    retried = REGISTRY.get_sample_value("newsagg_alerts_retries_total", {"dependency": "store"})
    worker = parts.worker()
    running = threading.Thread(target=worker.run)
    running.start()
    try:
        time.sleep(1.0)
        assert running.is_alive()
        assert alerts.pending(search.id) == []
        writer = open_store(f"tantivy:///{tmp_path / 'index'}", writable=True)
        writer.ensure_schema()
        writer.upsert([fresh])
        deadline = time.monotonic() + 10
        while not alerts.pending(search.id) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [m.article_id for m in alerts.pending(search.id)] == [fresh.id]
        assert (
            REGISTRY.get_sample_value("newsagg_alerts_retries_total", {"dependency": "store"})
            == retried
        )
    finally:
        parts.stop.set()
        running.join(timeout=10)
        for closing in (alerts, reader, bus):
            closing.close()
    writer.close()
