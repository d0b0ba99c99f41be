"""The indexer merges each article with the stored version of its id (issue 17): a changed
page keeps its id and becomes the next revision; a re-fetch, a re-delivery or a replay of
a version already merged is no revision."""

import threading
from datetime import UTC, datetime, timedelta

from newsagg.core.article import Article
from newsagg.core.ports import ARTICLES_TOPIC
from newsagg.indexer.metrics import REGISTRY
from newsagg.indexer.worker import Indexer
from support.fakes import MemoryBus, MemoryStore

FIRST_CRAWL = datetime(2026, 9, 6, 8, tzinfo=UTC)


def version(title: str, text: str, hours: float, **fields: object) -> Article:
    """The same page (one URL) as a crawl `hours` after the first one found it."""
    return Article.create(
        url="https://s.example/story",
        source="s",
        title=title,
        text=text,
        crawled_at=FIRST_CRAWL + timedelta(hours=hours),
        **fields,
    )


V1 = version("Minister resigns", "The minister resigned.\nNo reason was given.", 0)
V2 = version("Minister resigns over leak", "The minister resigned.\nA memo had leaked.", 2)


def revisions_counted() -> float:
    return REGISTRY.get_sample_value("newsagg_indexer_revisions_total") or 0.0


def setup() -> tuple[MemoryBus, MemoryStore, Indexer]:
    bus, store = MemoryBus(), MemoryStore()
    consumer = bus.consumer(ARTICLES_TOPIC, "indexer")
    return bus, store, Indexer(bus, consumer, store, batch_size=10, max_retry_delay=0.05)


def index(bus: MemoryBus, indexer: Indexer, *articles: Article) -> None:
    """Publish, then index all of it as one batch."""
    for a in articles:
        bus.publish(ARTICLES_TOPIC, a.id, a.to_json())
    indexer.process(indexer.consumer.poll(10, 0))


def test_a_changed_page_keeps_its_id_and_becomes_revision_2():
    bus, store, indexer = setup()
    index(bus, indexer, V1)
    counted = revisions_counted()
    index(bus, indexer, V2)
    assert list(store.articles) == [V1.id] == [V2.id]
    held = store.articles[V2.id]
    assert (held.title, held.text, held.revision) == (V2.title, V2.text, 2)
    assert held.updated_at == V2.crawled_at  # the page states no update: when it was seen
    assert held.previous is not None
    assert (held.previous.title, held.previous.text) == (V1.title, V1.text)
    assert [(r.revision, r.title, r.crawled_at) for r in held.revisions] == [
        (1, V1.title, V1.crawled_at)
    ]
    assert revisions_counted() == counted + 1


def test_the_update_time_the_page_states_is_kept():
    bus, store, indexer = setup()
    index(bus, indexer, V1)
    stated = FIRST_CRAWL + timedelta(hours=1)
    index(bus, indexer, V2.model_copy(update={"updated_at": stated}))
    assert store.articles[V1.id].updated_at == stated


def test_a_refetch_with_the_same_text_is_no_revision():
    bus, store, indexer = setup()
    index(bus, indexer, V1)
    index(bus, indexer, V2)
    counted = revisions_counted()
    again = version(V2.title, V2.text, 5)
    index(bus, indexer, again)
    held = store.articles[V1.id]
    assert held.crawled_at == again.crawled_at
    assert held.revision == 2
    assert held.updated_at == V2.crawled_at
    assert held.previous is not None
    assert held.previous.title == V1.title
    assert revisions_counted() == counted


def test_versions_in_one_batch_are_merged_in_crawl_order():
    """A replay into an empty store (`newsagg repair --index`) may bring every version in
    one batch, and not necessarily oldest first: the revisions are rebuilt all the same."""
    v3 = version("Minister resigns, successor named", V2.text + "\nA successor was named.", 4)
    bus, store, indexer = setup()
    index(bus, indexer, v3, V1, V2)
    held = store.articles[V1.id]
    assert (held.title, held.revision) == (v3.title, 3)
    assert [r.title for r in held.revisions] == [V1.title, V2.title]
    assert held.previous is not None
    assert held.previous.title == V2.title


def test_replaying_every_version_changes_nothing():
    bus, store, indexer = setup()
    index(bus, indexer, V1)
    index(bus, indexer, V2)
    merged = store.articles[V1.id]
    counted = revisions_counted()
    index(bus, indexer, V1, V2)  # a re-delivery or `newsagg replay` of both messages
    index(bus, indexer, V1)  # the old one alone: older than the stored crawl
    assert store.articles[V1.id] == merged
    assert revisions_counted() == counted


def test_an_outage_while_reading_the_stored_versions_is_retried():
    bus, store, indexer = setup()
    index(bus, indexer, V1)
    bus.publish(ARTICLES_TOPIC, V2.id, V2.to_json())
    messages = indexer.consumer.poll(10, 0)
    store.down = True
    timer = threading.Timer(0.3, lambda: setattr(store, "down", False))
    timer.start()
    indexer.process(messages)
    timer.join()
    assert store.failed_reads >= 1
    assert store.articles[V1.id].revision == 2
    assert bus.committed[(ARTICLES_TOPIC, "indexer")] == 2
