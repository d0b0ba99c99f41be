"""Elasticsearch indices made by older schema versions, on the real node: ensure_schema
adds the new fields to the live index (no reindex), so its strict mapping takes the new
documents, and gives the documents already there their group keys, so collapsing keeps
each one its own group; a mapping that cannot change in place is named, with
`newsagg reindex`, which mends it."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from newsagg.core.adapters import es_schema as schema
from newsagg.core.adapters.elasticsearch_store import ElasticsearchStore
from newsagg.core.adapters.es_admin import ElasticsearchAdmin
from newsagg.core.adapters.text_analyzer import TextAnalyzer
from newsagg.core.article import Article, DateSource, Quality
from newsagg.core.ports import IndexOutdated, StoreRejected
from newsagg.core.search import Collapse, SearchQuery, Sort
from newsagg.core.settings import Settings

ADDED_IN = {
    2: {
        *("date_source", "date_confidence", "listed_at", "date_notes", "quality"),
        *("quality_score", "quality_reasons", "revision", "previous", "revisions"),
    },
    3: {
        *("mentions", "enrichment", "minhash", "lsh_bands", "duplicate_group"),
        *("duplicate_of", "story_id", "people", *schema.GROUP_KEYS),
    },
}


def added_after(version: int) -> set[str]:
    return {field for v, fields in ADDED_IN.items() if v > version for field in fields}


NEW_FIELDS = added_after(1)


def story(n: int, **fields: Any) -> Article:
    return Article.create(
        url=f"https://upgrade.example/{n}",
        source="upgrade",
        title=f"Story {n}",
        text=f"Body {n} about the harbour.",
        crawled_at=datetime(2026, 10, 1, tzinfo=UTC),
        **fields,
    )


DATED = {"published_at": datetime(2026, 9, 1, tzinfo=UTC), "date_source": DateSource.META}


def old_mappings(version: int, **changed: Any) -> dict[str, Any]:
    """The mapping of an older schema version: today's without the fields added since."""
    component = schema.articles_component()
    properties = {
        name: definition
        for name, definition in component["mappings"]["properties"].items()
        if name not in added_after(version)
    }
    return {
        "settings": component["settings"],
        "mappings": {
            "dynamic": "strict",
            "_meta": {"schema_version": version},
            "properties": properties | changed,
        },
    }


@pytest.fixture
def old_store(elasticsearch_url: str, es_prefix: str) -> Iterator[ElasticsearchStore]:
    store = ElasticsearchStore.from_url(elasticsearch_url, Settings(store_index=es_prefix))
    yield store
    store.drop()
    store.close()


def make_old_index(store: ElasticsearchStore, version: int = 1, **changed: Any) -> None:
    store.client.indices.create(
        index=schema.index_name(store.prefix, 1),
        **old_mappings(version, **changed),
        aliases={store.read_alias: {}, store.write_alias: {"is_write_index": True}},
    )


def write_as_of(store: ElasticsearchStore, version: int, article: Article) -> None:
    """Index a document as a store of that schema version wrote it (its crawl as version)."""
    document = json.loads(schema.to_source(article, TextAnalyzer()))
    store.client.index(
        index=store.write_alias,
        id=article.id,
        document={k: v for k, v in document.items() if k not in added_after(version)},
        version=schema.version_of(article),
        version_type="external_gte",
        refresh=True,
    )


def properties(store: ElasticsearchStore) -> dict[str, Any]:
    mapping = store.client.indices.get_mapping(index=store.read_alias)
    return next(iter(mapping.values()))["mappings"]


def test_an_old_index_takes_the_new_fields_in_place(
    old_store: ElasticsearchStore, caplog: pytest.LogCaptureFixture
):
    make_old_index(old_store)
    old = story(1, published_at=datetime(2026, 8, 1, tzinfo=UTC), schema_version=1)
    written_before = json.loads(schema.to_source(old, TextAnalyzer()))
    with pytest.raises(StoreRejected, match="strict_dynamic_mapping"):
        old_store.upsert([old])  # what the indexer would meet without the upgrade
    write_as_of(old_store, 1, old)
    assert "duplicate_key" in written_before  # the same document today has its group keys
    with caplog.at_level(logging.WARNING, logger="newsagg.store"):
        old_store.ensure_schema()
    assert f"schema 1 -> {schema.SCHEMA_VERSION} in place" in caplog.text
    mappings = properties(old_store)
    assert mappings["_meta"] == {"schema_version": schema.SCHEMA_VERSION}
    assert set(mappings["properties"]) >= NEW_FIELDS
    assert ElasticsearchAdmin(old_store).indices() == {
        f"{old_store.prefix}-v1": [old_store.prefix, f"{old_store.prefix}-write"]
    }  # the same index: nothing copied

    new = story(2, **DATED, quality=Quality.LOW, quality_reasons=["teaser"])
    assert old_store.upsert([new]).written == 1
    assert old_store.get_many([old.id, new.id]) == {old.id: old, new.id: new}
    assert [h.id for h in old_store.search(SearchQuery(quality="low")).hits] == [new.id]
    assert [h.id for h in old_store.search(SearchQuery(quality="ok")).hits] == [old.id]
    assert [h.id for h in old_store.search(SearchQuery(date_sources=("meta",))).hits] == [new.id]
    old_store.ensure_schema()  # at the current version now: nothing to do
    assert properties(old_store)["_meta"] == {"schema_version": schema.SCHEMA_VERSION}


def test_a_mapping_that_cannot_change_in_place_says_to_reindex_and_reindex_mends_it(
    old_store: ElasticsearchStore, caplog: pytest.LogCaptureFixture
):
    make_old_index(old_store, quality={"type": "integer"})
    kept = [story(n) for n in (7, 8)]
    for article in kept:
        write_as_of(old_store, 1, article)
    with caplog.at_level(logging.ERROR, logger="newsagg.store"):
        old_store.ensure_schema()  # must not fail: `newsagg reindex` calls it first
    assert "`newsagg reindex`" in caplog.text
    with pytest.raises(IndexOutdated, match=r"quality.*newsagg reindex"):
        old_store.upsert([story(1, **DATED)])

    old, new, _ = ElasticsearchAdmin(old_store).reindex()
    assert (old, new) == (f"{old_store.prefix}-v1", f"{old_store.prefix}-v2")
    # the copies carry their group keys: each old document is its own group
    page = old_store.search(SearchQuery(collapse=Collapse.DUPLICATES))
    assert (page.total, page.groups, len(page.hits)) == (2, 2, 2)
    old_store.ensure_schema()
    assert properties(old_store)["properties"]["quality"]["type"] == "keyword"
    assert old_store.upsert([story(1, **DATED, quality=Quality.LOW)]).written == 1
    assert old_store.search(SearchQuery(quality="low")).total == 1


def test_documents_from_before_enrichment_stay_their_own_groups_after_the_upgrade(
    old_store: ElasticsearchStore, caplog: pytest.LogCaptureFixture
):
    """Collapse puts every document without the key into one group: the upgrade writes the
    keys into the documents of a schema-2 index, keeping each document's version."""
    make_old_index(old_store, version=2)
    olds = [story(n, **DATED) for n in range(3)]
    for old in olds:
        write_as_of(old_store, 2, old)
    with caplog.at_level(logging.WARNING, logger="newsagg.store"):
        old_store.ensure_schema()
    assert f"schema 2 -> {schema.SCHEMA_VERSION} in place" in caplog.text
    assert "group keys written to 3 document(s)" in caplog.text
    assert old_store.get_many([old.id for old in olds]) == {old.id: old for old in olds}

    original = olds[0]
    copy = story(9, **DATED).model_copy(
        update={"duplicate_group": original.id, "duplicate_of": original.id, "enrichment": 1}
    )
    assert old_store.upsert([copy]).written == 1
    for collapse in (Collapse.DUPLICATES, Collapse.STORIES):
        page = old_store.search(SearchQuery(collapse=collapse, sort=Sort.DATE))
        assert page.total == 4
        expected = 3 if collapse == Collapse.DUPLICATES else 4  # the copy has no story yet
        assert (page.groups, len(page.hits)) == (expected, expected)
    sizes = {hit.id: hit.duplicates for hit in old_store.search(SearchQuery()).hits}
    assert sizes == {original.id: 2, copy.id: 2, olds[1].id: 1, olds[2].id: 1}
    assert [hit.id for hit in old_store.story(olds[1].id)] == [olds[1].id]

    # each rewrite kept the document's own version: an older crawl is still stale
    older = olds[1].model_copy(update={"crawled_at": datetime(2026, 9, 30, tzinfo=UTC)})
    assert old_store.upsert([older]).stale == 1
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="newsagg.store"):
        old_store.ensure_schema()
    assert "group keys" not in caplog.text
