"""The indexer's metrics, on the in-memory fakes: what one batch counts, how fresh its
articles are once committed, retries by dependency, lag and store gauges, and a registry
that holds the indexer's series and no other service's."""

from __future__ import annotations

import importlib
import threading
from datetime import UTC, datetime, timedelta

from newsagg.core.article import Article
from newsagg.core.ports import ARTICLES_TOPIC, StoreRejected
from newsagg.indexer.metrics import REGISTRY
from newsagg.indexer.worker import Indexer
from prometheus_client import generate_latest
from support.fakes import MemoryBus, MemoryStore

GROUP = "metrics-test"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def article(n: int, *, published: timedelta | None, fetched: timedelta) -> Article:
    now = datetime.now(UTC)
    return Article.create(
        url=f"https://metrics.example/{n}",
        source="s",
        title=f"Story {n}",
        text=f"Body of story {n}.",
        published_at=now - published if published is not None else None,
        date_source="meta" if published is not None else None,
        crawled_at=now - fetched,
    )


def indexer(bus: MemoryBus, store: MemoryStore) -> Indexer:
    consumer = bus.consumer(ARTICLES_TOPIC, GROUP)
    return Indexer(bus, consumer, store, batch_size=10, max_retry_delay=0.05, group=GROUP)


def test_a_batch_counts_what_it_consumed_indexed_and_dead_lettered():
    bus, store = MemoryBus(), MemoryStore()
    before = {
        "consumed": sample("newsagg_bus_consumed_total", topic=ARTICLES_TOPIC),
        "invalid": sample("newsagg_bus_dead_letters_total", topic=ARTICLES_TOPIC, reason="invalid"),
        "batches": sample("newsagg_indexer_batches_total"),
        "indexed": sample("newsagg_indexer_documents_indexed_total"),
        "timed": sample("newsagg_indexer_batch_duration_seconds_count"),
    }
    for a in (article(1, published=None, fetched=timedelta(seconds=3)),) * 2:
        bus.publish(ARTICLES_TOPIC, a.id, a.to_json())
    bus.publish(ARTICLES_TOPIC, "bad", b"not json")
    worker = indexer(bus, store)
    worker.process(worker.consumer.poll(10, 0))
    assert sample("newsagg_bus_consumed_total", topic=ARTICLES_TOPIC) == before["consumed"] + 3
    assert (
        sample("newsagg_bus_dead_letters_total", topic=ARTICLES_TOPIC, reason="invalid")
        == before["invalid"] + 1
    )
    assert sample("newsagg_indexer_batches_total") == before["batches"] + 1
    # the same article twice: the second copy is not newer, so one document is written
    assert sample("newsagg_indexer_documents_indexed_total") == before["indexed"] + 2
    assert sample("newsagg_indexer_batch_duration_seconds_count") == before["timed"] + 1
    assert (
        sample(
            "newsagg_bus_consumer_lag_messages", group=GROUP, topic=ARTICLES_TOPIC, partition="0"
        )
        == 0
    )
    assert sample("newsagg_store_documents") == 1


def test_freshness_is_observed_after_commit_and_skips_articles_without_a_date():
    bus, store = MemoryBus(), MemoryStore()
    published = "newsagg_freshness_published_to_searchable_seconds"
    fetched = "newsagg_freshness_fetched_to_searchable_seconds"
    before = {
        "published": sample(f"{published}_count"),
        "published_within_hour": sample(f"{published}_bucket", le="3600.0"),
        "fetched": sample(f"{fetched}_count"),
        "fetched_within_minute": sample(f"{fetched}_bucket", le="60.0"),
    }
    dated = article(2, published=timedelta(minutes=40), fetched=timedelta(seconds=20))
    undated = article(3, published=None, fetched=timedelta(seconds=20))
    for a in (dated, undated):
        bus.publish(ARTICLES_TOPIC, a.id, a.to_json())
    worker = indexer(bus, store)
    worker.process(worker.consumer.poll(10, 0))
    assert sample(f"{published}_count") == before["published"] + 1
    assert sample(f"{published}_bucket", le="3600.0") == before["published_within_hour"] + 1
    assert sample(f"{published}_bucket", le="1800.0") <= before["published"]  # 40 min > 30
    assert sample(f"{fetched}_count") == before["fetched"] + 2
    assert sample(f"{fetched}_bucket", le="60.0") == before["fetched_within_minute"] + 2


def test_articles_the_store_refuses_are_dead_lettered_as_rejected_and_not_fresh():
    class Refusing(MemoryStore):
        def upsert(self, articles):
            raise StoreRejected({articles[0].id: "mapping error"})

    bus, store = MemoryBus(), Refusing()
    a = article(4, published=timedelta(minutes=1), fetched=timedelta(seconds=1))
    bus.publish(ARTICLES_TOPIC, a.id, a.to_json())
    rejected = sample("newsagg_bus_dead_letters_total", topic=ARTICLES_TOPIC, reason="rejected")
    fresh = sample("newsagg_freshness_fetched_to_searchable_seconds_count")
    worker = indexer(bus, store)
    worker.process(worker.consumer.poll(10, 0))
    assert (
        sample("newsagg_bus_dead_letters_total", topic=ARTICLES_TOPIC, reason="rejected")
        == rejected + 1
    )
    assert sample("newsagg_freshness_fetched_to_searchable_seconds_count") == fresh


def test_both_retry_series_exist_before_the_first_retry():
    """rate() and the retries panel need a series at 0; one born at 1 hides the first retry."""
    exposed = generate_latest(REGISTRY).decode()
    for dependency in ("store", "bus"):
        assert f'newsagg_indexer_retries_total{{dependency="{dependency}"}}' in exposed


def test_retries_are_counted_by_the_dependency_that_was_down():
    bus, store = MemoryBus(), MemoryStore()
    a = article(5, published=None, fetched=timedelta(seconds=1))
    bus.publish(ARTICLES_TOPIC, a.id, a.to_json())
    bus.publish(ARTICLES_TOPIC, "bad", b"not json")
    store_retries = sample("newsagg_indexer_retries_total", dependency="store")
    bus_retries = sample("newsagg_indexer_retries_total", dependency="bus")
    worker = indexer(bus, store)
    messages = worker.consumer.poll(10, 0)
    store.down = True
    bus.down = True  # the dead letter waits for the bus
    threading.Timer(0.2, lambda: setattr(store, "down", False)).start()
    threading.Timer(1.0, lambda: setattr(bus, "down", False)).start()  # after the store's retry
    worker.process(messages)
    assert sample("newsagg_indexer_retries_total", dependency="store") > store_retries
    assert sample("newsagg_indexer_retries_total", dependency="bus") > bus_retries


def test_the_registry_holds_the_indexer_s_series_only():
    # defined in this process too, yet not in the indexer's registry
    importlib.import_module("newsagg.api.metrics")
    importlib.import_module("newsagg.crawler.metrics")

    text = generate_latest(REGISTRY).decode()
    names = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1] != "#"}
    ours = {name for name in names if name.startswith("newsagg_")}
    assert "newsagg_store_size_bytes" in ours
    assert not any(name.startswith(("newsagg_crawler_", "newsagg_api_")) for name in ours)
    assert "newsagg_bus_published_total" not in ours
