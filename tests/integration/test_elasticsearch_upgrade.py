"""An Elasticsearch index made before schema version 2, on the real node: ensure_schema
adds the new fields to the live index (no reindex), so its strict mapping takes the new
documents; a mapping that cannot change in place is named, with `newsagg reindex`, which
mends it."""

from __future__ import annotations

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
from newsagg.core.search import SearchQuery
from newsagg.core.settings import Settings

NEW_FIELDS = {
    *("date_source", "date_confidence", "listed_at", "date_notes", "quality"),
    *("quality_score", "quality_reasons", "revision", "previous", "revisions"),
}


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


def version_1_mappings(**changed: Any) -> dict[str, Any]:
    """The mapping of schema version 1: today's without the fields version 2 added."""
    component = schema.articles_component()
    properties = {
        name: definition
        for name, definition in component["mappings"]["properties"].items()
        if name not in NEW_FIELDS
    }
    return {
        "settings": component["settings"],
        "mappings": {
            "dynamic": "strict",
            "_meta": {"schema_version": 1},
            "properties": properties | changed,
        },
    }


@pytest.fixture
def old_store(elasticsearch_url: str, es_prefix: str) -> Iterator[ElasticsearchStore]:
    store = ElasticsearchStore.from_url(elasticsearch_url, Settings(store_index=es_prefix))
    yield store
    store.drop()
    store.close()


def make_old_index(store: ElasticsearchStore, **changed: Any) -> None:
    store.client.indices.create(
        index=schema.index_name(store.prefix, 1),
        **version_1_mappings(**changed),
        aliases={store.read_alias: {}, store.write_alias: {"is_write_index": True}},
    )


def properties(store: ElasticsearchStore) -> dict[str, Any]:
    mapping = store.client.indices.get_mapping(index=store.read_alias)
    return next(iter(mapping.values()))["mappings"]


def test_an_old_index_takes_the_new_fields_in_place(
    old_store: ElasticsearchStore, caplog: pytest.LogCaptureFixture
):
    make_old_index(old_store)
    old = story(1, published_at=datetime(2026, 8, 1, tzinfo=UTC), schema_version=1)
    written_before = schema.to_document(old, TextAnalyzer())
    with pytest.raises(StoreRejected, match="strict_dynamic_mapping"):
        old_store.upsert([old])  # what the indexer would meet without the upgrade
    old_store.client.index(
        index=old_store.write_alias,
        id=old.id,
        document={k: v for k, v in written_before.items() if k not in NEW_FIELDS},
        refresh=True,
    )
    with caplog.at_level(logging.WARNING, logger="newsagg.store"):
        old_store.ensure_schema()
    assert "schema 1 -> 2 in place" in caplog.text
    mappings = properties(old_store)
    assert mappings["_meta"] == {"schema_version": 2}
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
    old_store.ensure_schema()  # at version 2 now: nothing to do
    assert properties(old_store)["_meta"] == {"schema_version": 2}


def test_a_mapping_that_cannot_change_in_place_says_to_reindex_and_reindex_mends_it(
    old_store: ElasticsearchStore, caplog: pytest.LogCaptureFixture
):
    make_old_index(old_store, quality={"type": "integer"})
    with caplog.at_level(logging.ERROR, logger="newsagg.store"):
        old_store.ensure_schema()  # must not fail: `newsagg reindex` calls it first
    assert "`newsagg reindex`" in caplog.text
    with pytest.raises(IndexOutdated, match=r"quality.*newsagg reindex"):
        old_store.upsert([story(1, **DATED)])

    old, new, _ = ElasticsearchAdmin(old_store).reindex()
    assert (old, new) == (f"{old_store.prefix}-v1", f"{old_store.prefix}-v2")
    old_store.ensure_schema()
    assert properties(old_store)["properties"]["quality"]["type"] == "keyword"
    assert old_store.upsert([story(1, **DATED, quality=Quality.LOW)]).written == 1
    assert old_store.search(SearchQuery(quality="low")).total == 1
