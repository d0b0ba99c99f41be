"""`newsagg replay --re-enrich`: every stored article counts as never enriched, and the
replayed log enriches them all again, to the same groups and stories (same method, same
order)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from newsagg.core.adapters import open_store
from newsagg.core.adapters.sqlite_bus import SqliteLogBus
from newsagg.core.enrichment import ENRICHMENT_VERSION, Enricher
from newsagg.core.ports import ARTICLES_TOPIC
from newsagg.core.search import SearchQuery
from newsagg.core.settings import Settings
from newsagg.indexer.metrics import REGISTRY
from newsagg.indexer.worker import Indexer
from support.demo_corpus import demo_articles

from newsagg.cli.bus_admin import replay

BATCH = 16
Outcome = tuple[str | None, str | None, str | None, int]


def stored(settings: Settings) -> dict[str, Outcome]:
    """Each stored article's group, original, story and enrichment version."""
    store = open_store(settings.resolved_store_url, writable=False, settings=settings)
    try:
        return {
            a.id: (a.duplicate_group, a.duplicate_of, a.story_id, a.enrichment)
            for a in store.scan(SearchQuery())
        }
    finally:
        store.close()


def index_all(settings: Settings) -> None:
    """Drain the bus through an enriching indexer."""
    bus = SqliteLogBus(settings.data_dir / "bus.sqlite")
    store = open_store(settings.resolved_store_url, writable=True, settings=settings)
    store.ensure_schema()
    consumer = bus.consumer(ARTICLES_TOPIC, settings.indexer_group)
    enricher = Enricher(store)
    indexer = Indexer(bus, consumer, store, batch_size=BATCH, batch_wait=0, enricher=enricher)
    try:
        while messages := consumer.poll(BATCH, timeout=0.2):
            indexer.process(messages)
    finally:
        consumer.close()
        store.close()
        bus.close()


def unchanged() -> float:
    value = REGISTRY.get_sample_value("newsagg_indexer_enriched_total", {"outcome": "unchanged"})
    assert value is not None
    return value


def test_re_enrich_marks_every_article_and_the_replay_rebuilds_the_same(tmp_path: Path):
    settings = Settings(data_dir=tmp_path)
    articles = sorted(demo_articles(), key=lambda a: (a.published_at or a.crawled_at, a.url))
    bus = SqliteLogBus(tmp_path / "bus.sqlite")
    for article in articles:
        bus.publish(ARTICLES_TOPIC, article.id, article.to_json())
    bus.close()
    index_all(settings)
    first = stored(settings)
    assert {outcome[3] for outcome in first.values()} == {ENRICHMENT_VERSION}

    assert replay(settings, None, re_enrich=True) == 0
    assert {outcome[3] for outcome in stored(settings).values()} == {0}

    before = unchanged()
    index_all(settings)
    assert unchanged() == before
    assert stored(settings) == first


def test_re_enrich_needs_the_whole_log(tmp_path: Path):
    settings = Settings(data_dir=tmp_path)
    assert replay(settings, datetime(2026, 9, 1, tzinfo=UTC), re_enrich=True) == 2
