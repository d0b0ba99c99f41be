"""TantivyStore with several indexing threads: a batch is then written as one segment per
thread, and an upsert that deletes an article in one segment and adds its newer crawl in
another must keep the port's promises (searchable and durable on return, newer crawl wins).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.article import Article, DateSource
from newsagg.core.query import parse_query
from newsagg.core.search import Collapse, SearchQuery

CRAWLED = datetime(2026, 3, 1, 12, tzinfo=UTC)
BATCH = 300


def _article(n: int, crawled: datetime, title: str) -> Article:
    return Article.create(
        url=f"https://writer.example/{n}",
        source="writer",
        title=title,
        text=f"The harbour festival opened with boats and music, story {n}.",
        published_at=CRAWLED - timedelta(hours=1),
        date_source=DateSource.META,
        crawled_at=crawled,
    )


def _count(store: TantivyStore, query: str) -> int:
    page = store.search(SearchQuery(query=parse_query(query), collapse=Collapse.NONE, size=1))
    return page.total


def test_two_writer_threads_keep_upserts_searchable_durable_and_versioned(tmp_path: Path):
    path = tmp_path / "index"
    store = TantivyStore(path, writable=True, writer_threads=2)
    store.ensure_schema()
    first = [_article(n, CRAWLED, "Harbour festival") for n in range(BATCH)]
    assert store.upsert(first).written == BATCH
    assert store.count() == BATCH

    later, earlier = CRAWLED + timedelta(hours=2), CRAWLED - timedelta(hours=2)
    newer = [_article(n, later, "Lantern parade") for n in range(0, BATCH, 2)]
    older = [_article(n, earlier, "Rowing regatta") for n in range(1, BATCH, 2)]
    result = store.upsert(newer + older)
    assert (result.written, result.stale) == (len(newer), len(older))
    assert store.count() == BATCH
    assert _count(store, "lantern") == len(newer)
    assert _count(store, "regatta") == 0
    store.close()

    reader = TantivyStore(path, writable=False)
    assert reader.count() == BATCH
    assert _count(reader, "lantern") == len(newer)
    assert _count(reader, "title:harbour") == BATCH - len(newer)
    stored = reader.get(newer[0].id)
    assert stored is not None
    assert (stored.title, stored.crawled_at) == ("Lantern parade", later)
