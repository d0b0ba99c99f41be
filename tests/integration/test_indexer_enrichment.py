"""The indexer's enrichment stage over the demo's labelled syndication set, on each store:
the bus carries the extracted articles in publication order, the indexer enriches and
writes them batch by batch, and the groups, originals and stories are checked against the
manifest's labels (duplicate_label, story_label, people). A replay keeps them all. An
index made before the enrichment fields is still indexed, without enrichment.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations
from pathlib import Path

import pytest
import tantivy
from newsagg.core.adapters.sqlite_bus import SqliteLogBus
from newsagg.core.adapters.tantivy_schema import ANALYZER, news_analyzer
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.article import Article
from newsagg.core.enrichment import ENRICHMENT_VERSION, Enricher
from newsagg.core.ports import ARTICLES_TOPIC, SearchStore
from newsagg.indexer.metrics import REGISTRY
from newsagg.indexer.worker import Indexer
from support.demo_corpus import MANIFEST, demo_articles
from support.stores import STORE_ADAPTERS, StorePair, store_pair

BATCH = 8
"""Small enough that copies of one agency text fall in one batch and in different ones."""
LABELS = {(item["source"], item["slug"]): item for item in MANIFEST["articles"]}


@pytest.fixture(params=STORE_ADAPTERS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StorePair]:
    pair = store_pair(request.param, tmp_path, request, "enrichment")
    yield pair
    pair.close()


def label(article: Article) -> dict:
    slug = article.url.rsplit("/", 1)[1].removesuffix(".html")
    return LABELS[(article.source, slug)]


def in_order() -> list[Article]:
    """The demo's articles as a crawl would publish them: oldest first."""
    return sorted(demo_articles(), key=lambda a: (a.published_at or a.crawled_at, a.url))


def index(bus: SqliteLogBus, store: SearchStore, enricher: Enricher | None) -> None:
    """Everything on the bus through one indexer, batch by batch, until it is drained."""
    consumer = bus.consumer(ARTICLES_TOPIC, "indexer")
    indexer = Indexer(bus, consumer, store, batch_size=BATCH, batch_wait=0, enricher=enricher)
    try:
        while messages := consumer.poll(BATCH, timeout=0.2):
            indexer.process(messages)
    finally:
        consumer.close()


def published(tmp_path: Path, articles: list[Article]) -> SqliteLogBus:
    bus = SqliteLogBus(tmp_path / "bus.sqlite")
    for article in articles:
        bus.publish(ARTICLES_TOPIC, article.id, article.to_json())
    bus.flush()
    return bus


def counted(outcome: str) -> float:
    value = REGISTRY.get_sample_value("newsagg_indexer_enriched_total", {"outcome": outcome})
    assert value is not None
    return value


def test_groups_originals_and_stories_follow_the_labels(stores: StorePair, tmp_path: Path):
    articles = in_order()
    bus = published(tmp_path, articles)
    duplicates_before = counted("duplicate")
    index(bus, stores.writer, Enricher(stores.writer))
    held = stores.writer.get_many([a.id for a in articles])
    enriched = [held[a.id] for a in articles]
    assert all(a.enrichment == ENRICHMENT_VERSION for a in enriched)

    labelled = {a.id: label(a) for a in articles}
    copies = [a for a in enriched if labelled[a.id]["duplicate_label"]]
    groups = {labelled[a.id]["duplicate_label"] for a in copies}
    assert counted("duplicate") - duplicates_before == len(copies) - len(groups)
    for first, second in combinations(enriched, 2):
        same_text = labelled[first.id]["duplicate_label"] is not None and (
            labelled[first.id]["duplicate_label"] == labelled[second.id]["duplicate_label"]
        )
        assert (first.duplicate_group == second.duplicate_group) == same_text, (
            first.url,
            second.url,
        )
        if same_text:
            assert first.story_id == second.story_id
        shares_a_person = set(first.people) & set(second.people)
        if (
            shares_a_person
            and labelled[first.id]["story_label"] != labelled[second.id]["story_label"]
        ):
            assert first.story_id != second.story_id, (first.url, second.url)

    for name in groups:
        members = sorted(
            (a for a in copies if labelled[a.id]["duplicate_label"] == name),
            key=lambda a: (a.published_at or a.crawled_at, a.crawled_at, a.id),
        )
        assert members[0].duplicate_of is None
        assert {a.duplicate_of for a in members[1:]} == {members[0].id}
    for article in enriched:
        if not labelled[article.id]["duplicate_label"]:
            assert (article.duplicate_group, article.duplicate_of) == (article.id, None)
    bus.close()


def test_a_replay_keeps_every_group_and_story(stores: StorePair, tmp_path: Path):
    articles = in_order()
    bus = published(tmp_path, articles)
    index(bus, stores.writer, Enricher(stores.writer))
    first = stores.writer.get_many([a.id for a in articles])
    unchanged_before = counted("unchanged")
    bus.rewind(ARTICLES_TOPIC, "indexer", None)
    index(bus, stores.writer, Enricher(stores.writer))
    again = stores.writer.get_many([a.id for a in articles])
    assert counted("unchanged") - unchanged_before == len(articles)
    for article in articles:
        before, after = first[article.id], again[article.id]
        assert (after.duplicate_group, after.duplicate_of, after.story_id) == (
            before.duplicate_group,
            before.duplicate_of,
            before.story_id,
        )
    bus.close()


def test_without_enrichment_articles_are_written_as_they_came(tmp_path: Path):
    pair = store_pair("tantivy", tmp_path, None, "plain")  # type: ignore[arg-type]
    articles = in_order()[:BATCH]
    bus = published(tmp_path, articles)
    index(bus, pair.writer, None)
    held = pair.writer.get_many([a.id for a in articles])
    assert {(a.enrichment, a.story_id, a.duplicate_group) for a in held.values()} == {
        (0, None, None)
    }
    bus.close()
    pair.close()


def _issue_17_index(path: Path) -> None:
    """An embedded index in the layout before the enrichment fields (issue 17's)."""
    builder = tantivy.SchemaBuilder()
    for name in ("id", "source", "authors", "language", "date_source", "quality"):
        builder.add_text_field(name, stored=name == "id", tokenizer_name="raw", fast=True)
    builder.add_text_field("title", tokenizer_name=ANALYZER)
    builder.add_text_field("text", stored=True, tokenizer_name=ANALYZER)
    builder.add_text_field("author_text", tokenizer_name=ANALYZER)
    builder.add_date_field("published_at", indexed=True, fast=True)
    builder.add_date_field("sort_date", fast=True)
    builder.add_date_field("crawled_at", stored=True, fast=True)
    builder.add_bytes_field("doc", stored=True, indexed=False)
    path.mkdir()
    old = tantivy.Index(builder.build(), path=str(path))
    old.register_tokenizer(ANALYZER, news_analyzer())
    old.writer(heap_size=15_000_000, num_threads=1).commit()


def test_an_index_without_the_enrichment_fields_is_indexed_without_enrichment(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    _issue_17_index(tmp_path / "index")
    store = TantivyStore(tmp_path / "index", writable=True)
    store.ensure_schema()
    articles = in_order()[:BATCH]
    bus = published(tmp_path, articles)
    index(bus, store, Enricher(store))
    held = store.get_many([a.id for a in articles])
    assert set(held) == {a.id for a in articles}
    assert {a.enrichment for a in held.values()} == {0}
    assert "enrichment off until the index is rebuilt" in caplog.text
    bus.close()
    store.close()
