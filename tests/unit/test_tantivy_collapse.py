"""The embedded store's collapse reads hits in order, more each time until it has the page's
groups, and no further than its cap: checked with the read sizes made small, so the
growth and the cap are exercised on a small index (the contract suite's corpus fits in the
first read)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from newsagg.core.adapters import tantivy_store
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.article import Article, DateSource
from newsagg.core.search import Collapse, SearchQuery, Sort

START = datetime(2026, 9, 1, tzinfo=UTC)
COPIES = 3


def _articles() -> list[Article]:
    """12 groups of 3 copies, published one after another, so newest first the copies of a
    group are neighbours and each group takes three hits to pass."""
    articles = []
    for n in range(12 * COPIES):
        article = Article.create(
            url=f"https://collapse.example/{n}",
            source=f"outlet-{n % COPIES}",
            title=f"Harbour story {n // COPIES}",
            text=f"The harbour festival, story {n // COPIES}, copy {n % COPIES}.",
            crawled_at=START + timedelta(days=40),
            published_at=START + timedelta(hours=n),
            date_source=DateSource.META,
        )
        articles.append(article)
    return [
        a.model_copy(update={"duplicate_group": articles[n - n % COPIES].id, "enrichment": 1})
        for n, a in enumerate(articles)
    ]


ARTICLES = _articles()


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TantivyStore]:
    monkeypatch.setattr(tantivy_store, "COLLAPSE_READ", 2)
    store = TantivyStore(tmp_path / "index", writable=True)
    store.ensure_schema()
    store.upsert(ARTICLES)
    yield store
    store.close()


def _groups_newest_first() -> list[str]:
    newest = sorted(ARTICLES, key=lambda a: a.published_at, reverse=True)
    return list(dict.fromkeys(a.duplicate_group for a in newest))


@pytest.mark.parametrize("offset", [0, 3, 9])
def test_collapse_reads_more_until_the_page_has_its_groups(store: TantivyStore, offset):
    query = SearchQuery(sort=Sort.DATE, collapse=Collapse.DUPLICATES, offset=offset, size=3)
    page = store.search(query)
    assert [store.get(h.id).duplicate_group for h in page.hits] == _groups_newest_first()[
        offset : offset + 3
    ]
    assert (page.total, page.groups) == (len(ARTICLES), 12)
    assert {h.duplicates for h in page.hits} == {COPIES}


def test_collapse_reads_no_further_than_its_cap(
    store: TantivyStore, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(tantivy_store, "MAX_COLLAPSE_READ", 9)  # 3 groups' worth
    near = store.search(SearchQuery(sort=Sort.DATE, collapse=Collapse.DUPLICATES, size=3))
    assert len(near.hits) == 3
    deep = SearchQuery(sort=Sort.DATE, collapse=Collapse.DUPLICATES, offset=3, size=3)
    page = store.search(deep)
    assert page.hits == []
    assert (page.total, page.groups) == (len(ARTICLES), 12)  # still counted, not read
