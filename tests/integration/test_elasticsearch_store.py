"""What only the Elasticsearch store has: index layout, cursor scans, reindex, outages.

The behaviour both stores share is in tests/contract; these run on the real node too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from newsagg.core.adapters import elasticsearch_store as es_store
from newsagg.core.adapters.elasticsearch_store import ElasticsearchStore
from newsagg.core.adapters.es_admin import ElasticsearchAdmin
from newsagg.core.article import Article
from newsagg.core.ports import StoreRejected, StoreUnavailable
from newsagg.core.query import parse_query
from newsagg.core.search import SearchQuery, Sort
from newsagg.core.settings import Settings
from support.servers import free_port

from newsagg.cli.main import main


def story(n: int, **changes: object) -> Article:
    return Article.create(
        url=f"https://wire.example/{n}",
        source="wire",
        title=f"Story {n} about cycling",
        text=f"Body {n}: a rider cycles through town number {n}.",
        published_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n),
        date_source="meta",
        crawled_at=datetime(2026, 10, 1, tzinfo=UTC),
        **changes,
    )


@pytest.fixture
def store(elasticsearch_url: str, es_prefix: str) -> Iterator[ElasticsearchStore]:
    store = ElasticsearchStore.from_url(elasticsearch_url, Settings(store_index=es_prefix))
    store.ensure_schema()
    yield store
    store.drop()
    store.close()


def test_schema_is_a_versioned_index_behind_a_read_and_a_write_alias(store: ElasticsearchStore):
    store.ensure_schema()  # idempotent
    assert ElasticsearchAdmin(store).indices() == {
        f"{store.prefix}-v1": [store.prefix, f"{store.prefix}-write"]
    }
    mapping = store.client.indices.get_mapping(index=store.prefix)
    properties = next(iter(mapping.values()))["mappings"]["properties"]
    assert properties["title_terms"]["analyzer"] == "whitespace"
    assert properties["source"]["type"] == "keyword"
    assert properties["published_at"]["type"] == "date"
    assert store.health()


def _refresh_interval(store: ElasticsearchStore) -> str:
    settings = store.client.indices.get_settings(index=store.write_alias)
    return next(iter(settings.values()))["settings"]["index"]["refresh_interval"]


def test_an_upsert_is_searchable_on_return_with_no_wait_for_refresh(store: ElasticsearchStore):
    """Chunks of BULK_CHUNK_DOCS carry no refresh; one refresh after the last."""
    store.client.indices.put_settings(
        index=store.write_alias, settings={"index": {"refresh_interval": "60s"}}
    )
    assert store.upsert([story(n) for n in range(30)]).written == 30
    assert store.search(SearchQuery(query=parse_query("cycling"))).total == 30


def test_bulk_ingest_defers_refresh_and_restores_the_interval(store: ElasticsearchStore):
    assert _refresh_interval(store) == "1s"
    assert store.upsert([story(0)]).written == 1
    with store.bulk_ingest():
        assert _refresh_interval(store) == "-1"
        assert store.upsert([story(n) for n in range(1, 40)]).written == 39
        assert store.get(story(5).id) == story(5)  # durable: a get reads the translog
        assert store.search(SearchQuery(query=parse_query("cycling"))).total == 1
    assert _refresh_interval(store) == "1s"
    assert store.search(SearchQuery(query=parse_query("cycling"))).total == 40


def test_bulk_ingest_restores_the_interval_when_the_block_fails(store: ElasticsearchStore):
    def replay_that_stops() -> None:
        with store.bulk_ingest():
            store.upsert([story(1)])
            raise RuntimeError("the replay stopped")

    with pytest.raises(RuntimeError):
        replay_that_stops()
    assert _refresh_interval(store) == "1s"
    assert store.search(SearchQuery(query=parse_query("cycling"))).total == 1


def test_scan_walks_every_hit_past_the_result_window(store: ElasticsearchStore):
    """Paging stops at index.max_result_window (10,000 by default; 100 here to stay
    quick); scan walks a point in time with search_after and has no such limit."""
    store.client.indices.put_settings(
        index=store.prefix, settings={"index": {"max_result_window": 100}}
    )
    articles = [story(n) for n in range(250)]
    assert store.upsert(articles).written == 250
    with pytest.raises(Exception, match="max_result_window"):
        store.search(SearchQuery(sort=Sort.DATE, size=10, offset=100))
    scanned = [hit.id for hit in store.scan(SearchQuery(sort=Sort.DATE), page_size=40)]
    assert scanned == [a.id for a in reversed(articles)]  # newest first, none twice
    matching = {h.id for h in store.scan(SearchQuery(query=parse_query("cycles town")), 50)}
    assert matching == {a.id for a in articles}


def test_reindex_swaps_aliases_while_searches_keep_answering(
    store: ElasticsearchStore, elasticsearch_url: str, monkeypatch: pytest.MonkeyPatch
):
    articles = [story(n) for n in range(1500)]
    store.upsert(articles)
    monkeypatch.setenv("NEWSAGG_STORE_URL", elasticsearch_url)
    monkeypatch.setenv("NEWSAGG_STORE_INDEX", store.prefix)
    results: list[int] = []
    failures: list[BaseException] = []
    exit_codes: list[int] = []
    command = threading.Thread(
        target=lambda: exit_codes.append(
            main(["reindex", "--batch-size", "100", "--max-docs-per-second", "1000"])
        )
    )
    command.start()
    newer = articles[0].model_copy(
        update={
            "title": "Rewritten while reindexing",
            "crawled_at": datetime(2026, 10, 2, tzinfo=UTC),
        }
    )
    time.sleep(0.3)
    store.upsert([newer])
    while command.is_alive():
        try:
            results.append(store.search(SearchQuery(query=parse_query("rider"))).total)
        except Exception as exc:  # every failure counts against the test
            failures.append(exc)
    command.join()
    assert exit_codes == [0]
    assert failures == []
    assert len(results) >= 10, "the reindex finished before the queries could overlap it"
    assert set(results) == {1500}
    assert ElasticsearchAdmin(store).indices() == {
        f"{store.prefix}-v1": [],
        f"{store.prefix}-v2": [store.prefix, f"{store.prefix}-write"],
    }
    assert store.count() == 1500
    assert store.get(newer.id).title == "Rewritten while reindexing"
    assert store.upsert([articles[1]]).written == 1  # the write alias moved with it


def test_reindex_of_the_embedded_store_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NEWSAGG_STORE_URL", f"tantivy:///{tmp_path / 'index'}")
    assert main(["reindex"]) == 2
    assert "reindex applies to Elasticsearch stores only" in capsys.readouterr().err


def test_a_document_the_mapping_refuses_is_reported_and_the_rest_written(
    store: ElasticsearchStore,
):
    index = f"{store.prefix}-v1"
    store.client.indices.delete(index=index)
    store.client.indices.create(
        index=index,
        mappings={"properties": {"word_count": {"type": "byte"}}},
        aliases={store.prefix: {}, f"{store.prefix}-write": {"is_write_index": True}},
    )
    good = story(1)
    bad = Article.create(
        url="https://wire.example/long",
        source="wire",
        title="A long read",
        text="word " * 500,
        crawled_at=datetime(2026, 10, 1, tzinfo=UTC),
    )
    with pytest.raises(StoreRejected) as refused:
        store.upsert([good, bad])
    assert list(refused.value.reasons) == [bad.id]
    assert "word_count" in refused.value.reasons[bad.id]
    assert store.get(good.id) == good


def test_a_batch_of_several_bulk_requests_sums_their_answers(
    store: ElasticsearchStore, monkeypatch: pytest.MonkeyPatch
):
    """Chunks sent in parallel: stale and refused documents of any chunk are counted, the
    rest written and searchable on return (stemmed terms built right on every chunk)."""
    monkeypatch.setattr(es_store, "UPSERT_CHUNK_DOCS", 4)
    index = f"{store.prefix}-v1"
    store.client.indices.delete(index=index)
    store.client.indices.create(
        index=index,
        mappings={"properties": {"word_count": {"type": "byte"}}},
        aliases={store.prefix: {}, f"{store.prefix}-write": {"is_write_index": True}},
    )
    newer = story(13).model_copy(update={"crawled_at": datetime(2026, 11, 1, tzinfo=UTC)})
    assert store.upsert([newer]).written == 1
    bad = Article.create(
        url="https://wire.example/long",
        source="wire",
        title="A long read",
        text="word " * 500,
        crawled_at=datetime(2026, 10, 1, tzinfo=UTC),
    )
    batch = [story(n) for n in range(17)]  # story(13) is an older crawl: stale
    with pytest.raises(StoreRejected) as refused:
        store.upsert([*batch[:9], bad, *batch[9:]])
    assert list(refused.value.reasons) == [bad.id]
    result = store.upsert(batch)
    assert (result.written, result.stale) == (16, 1)
    assert store.search(SearchQuery(query=parse_query("cycles"))).total == 17
    assert store.get(newer.id) == newer


def test_an_unreachable_cluster_is_store_unavailable_everywhere():
    down = ElasticsearchStore.from_url(f"http://127.0.0.1:{free_port()}", Settings())
    assert not down.health()
    for call in (
        down.ensure_schema,
        down.count,
        lambda: down.get("0" * 32),
        lambda: down.search(SearchQuery(query=parse_query("cycling"))),
        lambda: down.similar("0" * 32),
        lambda: down.upsert([story(1)]),
        lambda: down.upsert([story(n) for n in range(3 * es_store.UPSERT_CHUNK_DOCS)]),
    ):
        with pytest.raises(StoreUnavailable, match="unreachable"):
            call()


def test_a_missing_index_is_store_unavailable_not_an_empty_result(
    elasticsearch_url: str, es_prefix: str
):
    reader = ElasticsearchStore.from_url(elasticsearch_url, Settings(store_index=es_prefix))
    assert not reader.health()
    with pytest.raises(StoreUnavailable, match="has the indexer run"):
        reader.search(SearchQuery())
    with pytest.raises(StoreUnavailable, match="has the indexer run"):
        reader.get("0" * 32)
