"""near_duplicates on the real node with a whole batch's band keys: more keys than a query
may hold clauses (8,192 on the test node) and a size past the result window, as the
enrichment asks for one batch of 200 articles (40 keys each, 100 candidates each)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from newsagg.core.adapters import es_schema as schema
from newsagg.core.adapters.elasticsearch_store import ElasticsearchStore
from newsagg.core.article import Article
from newsagg.core.settings import Settings

BATCH_KEYS = [f"{band}-{n:05d}" for n in range(500) for band in range(40)]  # 20,000


def banded(n: int, bands: list[str]) -> Article:
    article = Article.create(
        url=f"https://bands.example/{n}",
        source="bands",
        title=f"Story {n}",
        text=f"Body {n}.",
        crawled_at=datetime(2026, 11, 1, tzinfo=UTC),
    )
    return article.model_copy(update={"lsh_bands": bands, "minhash": f"sig{n}", "enrichment": 1})


@pytest.fixture
def store(elasticsearch_url: str, es_prefix: str) -> Iterator[ElasticsearchStore]:
    store = ElasticsearchStore.from_url(elasticsearch_url, Settings(store_index=es_prefix))
    store.ensure_schema()
    yield store
    store.drop()
    store.close()


def test_a_batch_of_keys_past_the_clause_limit_and_the_window(store: ElasticsearchStore):
    first, last, elsewhere = (
        banded(1, [BATCH_KEYS[0], "other-1"]),
        banded(2, [BATCH_KEYS[-1]]),  # in the last `terms` chunk
        banded(3, ["other-2"]),
    )
    store.upsert([first, last, elsewhere])
    size = 100 * 200
    assert size > schema.RESULT_WINDOW
    found = store.near_duplicates(BATCH_KEYS, size=size)
    assert sorted(a.id for a in found) == sorted([first.id, last.id])
    assert {a.id: a for a in found} == {first.id: first, last.id: last}  # whole, with minhash
    assert len(store.near_duplicates(BATCH_KEYS, size=1)) == 1


def test_one_articles_keys_rank_the_most_shared_first(store: ElasticsearchStore):
    keys = [f"{band}-k" for band in range(40)]
    one, three, two = banded(1, keys[:1]), banded(2, keys[:3]), banded(3, keys[5:7])
    store.upsert([one, three, two])
    assert [a.id for a in store.near_duplicates(keys)] == [three.id, two.id, one.id]
    assert [a.id for a in store.near_duplicates(keys, size=2)] == [three.id, two.id]
