import threading
from datetime import UTC, datetime, timedelta

from newsagg.core.article import Article
from newsagg.core.ports import ARTICLES_TOPIC, StoreRejected
from newsagg.indexer.worker import Indexer
from support.fakes import MemoryBus, MemoryStore


def article(n: int, crawled_at: datetime | None = None) -> Article:
    return Article.create(
        url=f"https://s.example/{n}",
        source="s",
        title=f"Story {n}",
        text=f"Body of story {n}.",
        crawled_at=crawled_at or datetime(2026, 9, 6, tzinfo=UTC),
    )


def setup(stop: threading.Event | None = None) -> tuple[MemoryBus, MemoryStore, Indexer]:
    bus, store = MemoryBus(), MemoryStore()
    consumer = bus.consumer(ARTICLES_TOPIC, "indexer")
    return bus, store, Indexer(bus, consumer, store, batch_size=10, max_retry_delay=0.05, stop=stop)


def publish(bus: MemoryBus, *articles: Article) -> None:
    for a in articles:
        bus.publish(ARTICLES_TOPIC, a.id, a.to_json())


def test_batch_is_upserted_then_committed():
    bus, store, indexer = setup()
    publish(bus, article(1), article(2))
    indexer.process(indexer.consumer.poll(10, 0))
    assert set(store.articles) == {article(1).id, article(2).id}
    assert bus.committed[(ARTICLES_TOPIC, "indexer")] == 2


def test_invalid_messages_go_to_the_dead_letter_topic_with_reason():
    bus, store, indexer = setup()
    publish(bus, article(1))
    bus.publish(ARTICLES_TOPIC, "k1", b"this is not json")
    bus.publish(ARTICLES_TOPIC, "k2", b'{"title": "no id, no text"}')
    indexer.process(indexer.consumer.poll(10, 0))
    assert list(store.articles) == [article(1).id]
    dead = bus.topics[f"{ARTICLES_TOPIC}.dlq"]
    assert [m.key for m in dead] == ["k1", "k2"]
    assert dead[0].value == b"this is not json"
    assert "not a valid Article" in dead[0].headers["error"]
    assert dead[1].headers["source_topic"] == ARTICLES_TOPIC
    assert dead[1].headers["source_offset"] == "3"
    assert bus.committed[(ARTICLES_TOPIC, "indexer")] == 3


def test_store_outage_is_retried_and_nothing_committed_until_it_succeeds():
    bus, store, indexer = setup()
    publish(bus, article(1))
    store.down = True
    timer = threading.Timer(0.3, lambda: setattr(store, "down", False))
    timer.start()
    indexer.process(indexer.consumer.poll(10, 0))
    timer.join()
    assert store.failed_reads >= 1  # the read of the stored versions meets it first
    assert list(store.articles) == [article(1).id]
    assert bus.committed[(ARTICLES_TOPIC, "indexer")] == 1


def test_stop_during_outage_commits_nothing_and_loses_nothing():
    stop = threading.Event()
    bus, store, indexer = setup(stop)
    publish(bus, article(1), article(2))
    store.down = True
    threading.Timer(0.2, stop.set).start()
    indexer.run()
    assert (ARTICLES_TOPIC, "indexer") not in bus.committed
    store.down = False
    again = Indexer(bus, bus.consumer(ARTICLES_TOPIC, "indexer"), store)
    again.process(again.consumer.poll(10, 0))
    assert len(store.articles) == 2


def test_older_crawl_never_replaces_newer():
    bus, store, indexer = setup()
    new = article(1, datetime(2026, 9, 7, tzinfo=UTC))
    old = new.model_copy(update={"crawled_at": new.crawled_at - timedelta(days=1), "title": "old"})
    publish(bus, new, old)
    indexer.process(indexer.consumer.poll(10, 0))
    assert store.articles[new.id].crawled_at == new.crawled_at


def test_documents_the_store_refuses_for_good_are_dead_lettered_and_the_rest_committed():
    refused = article(2)

    class RefusingStore(MemoryStore):
        def upsert(self, articles):
            self.upsert_calls = getattr(self, "upsert_calls", 0) + 1
            super().upsert([a for a in articles if a.id != refused.id])
            raise StoreRejected({refused.id: "mapper_parsing_exception: bad date"})

    bus, store = MemoryBus(), RefusingStore()
    indexer = Indexer(bus, bus.consumer(ARTICLES_TOPIC, "indexer"), store, max_retry_delay=0.05)
    publish(bus, article(1), refused, article(3))
    indexer.process(indexer.consumer.poll(10, 0))
    assert store.upsert_calls == 1
    assert set(store.articles) == {article(1).id, article(3).id}
    dead = bus.topics[f"{ARTICLES_TOPIC}.dlq"]
    assert [m.key for m in dead] == [refused.id]
    assert "the store refused it: mapper_parsing_exception" in dead[0].headers["error"]
    assert bus.committed[(ARTICLES_TOPIC, "indexer")] == 3
