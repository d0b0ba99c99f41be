"""The embedded index's layouts: an index made before `doc` became stored-only bytes still
reads and writes in its own layout, and the upsert's batched crawl-time lookup keeps the
contract (newer crawl wins, equal crawl rewrites, stale skipped) across commits.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import tantivy
from newsagg.core.adapters.tantivy_schema import ANALYZER, news_analyzer, stores_doc_as_text
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.article import Article, DateSource
from newsagg.core.query import parse_query
from newsagg.core.search import SearchQuery, Sort

CRAWLED = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _article(n: int, crawled: datetime = CRAWLED, title: str = "Harbour festival") -> Article:
    return Article.create(
        url=f"https://layout.example/{n}",
        source="layout",
        title=title,
        text=f"The harbour festival opened with boats and music, story {n}.",
        published_at=crawled - timedelta(hours=1),
        date_source=DateSource.META,
        crawled_at=crawled,
    )


def _old_layout_schema() -> tantivy.Schema:
    """The layout before this change: `doc` a raw text field, indexed as one term."""
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw", fast=True)
    builder.add_text_field("title", tokenizer_name=ANALYZER)
    builder.add_text_field("text", stored=True, tokenizer_name=ANALYZER)
    builder.add_text_field("author_text", tokenizer_name=ANALYZER)
    builder.add_text_field("source", tokenizer_name="raw", fast=True)
    builder.add_text_field("authors", tokenizer_name="raw", fast=True)
    builder.add_text_field("language", tokenizer_name="raw", fast=True)
    builder.add_date_field("published_at", indexed=True, fast=True)
    builder.add_date_field("sort_date", fast=True)
    builder.add_date_field("crawled_at", stored=True, fast=True)
    builder.add_text_field("doc", stored=True, tokenizer_name="raw", index_option="basic")
    return builder.build()


def test_an_index_of_the_old_layout_is_read_and_written_in_it(tmp_path: Path):
    path = tmp_path / "index"
    path.mkdir()
    old = tantivy.Index(_old_layout_schema(), path=str(path))
    old.register_tokenizer(ANALYZER, news_analyzer())
    old.writer(heap_size=15_000_000, num_threads=1).commit()
    assert stores_doc_as_text(path)

    writer = TantivyStore(path, writable=True)
    writer.ensure_schema()
    assert writer.upsert([_article(1), _article(2)]).written == 2
    assert writer.upsert([_article(1, CRAWLED + timedelta(hours=1), "Harbour regatta")]).written
    reader = TantivyStore(path, writable=False)
    page = reader.search(SearchQuery(query=parse_query("regatta")))
    assert [hit.title for hit in page.hits] == ["Harbour regatta"]
    assert reader.get(_article(2).id) == _article(2)
    assert reader.count() == 2
    writer.close()
    reader.close()
    assert stores_doc_as_text(path)  # still its own layout: no silent rewrite


def test_a_new_index_stores_doc_as_bytes(tmp_path: Path):
    store = TantivyStore(tmp_path / "index", writable=True)
    store.ensure_schema()
    store.upsert([_article(1)])
    assert not stores_doc_as_text(tmp_path / "index")
    assert store.get(_article(1).id) == _article(1)
    store.close()


def test_the_batched_crawl_lookup_keeps_newest_across_commits(tmp_path: Path):
    store = TantivyStore(tmp_path / "index", writable=True)
    store.ensure_schema()
    first = [_article(n) for n in range(50)]
    assert store.upsert(first).written == 50
    later, earlier = CRAWLED + timedelta(minutes=5), CRAWLED - timedelta(minutes=5)
    batch = [
        *(_article(n, later, "Harbour regatta") for n in range(0, 10)),  # newer: replace
        *(_article(n, earlier, "Old harbour") for n in range(10, 20)),  # older: stale
        *(_article(n) for n in range(20, 30)),  # the same crawl again: rewritten
        *(_article(n) for n in range(50, 60)),  # new
    ]
    result = store.upsert(batch)
    assert (result.written, result.stale) == (30, 10)
    assert store.count() == 60
    assert store.get(_article(3).id).title == "Harbour regatta"
    assert store.get(_article(13).id).title == "Harbour festival"
    assert store.search(SearchQuery(query=parse_query("old"))).total == 0
    store.close()


def test_date_pages_keep_id_order_within_a_second_across_page_edges(tmp_path: Path):
    """Seconds shared by many articles, cut by page edges, by offset and by cursor."""
    store = TantivyStore(tmp_path / "index", writable=True)
    store.ensure_schema()
    seconds = [CRAWLED - timedelta(seconds=s) for s in (0, 0, 0, 0, 0, 1, 2, 2, 2, 2, 2, 2, 3)]
    articles = [
        Article.create(
            url=f"https://ties.example/{n}",
            source="ties",
            title="Harbour festival",
            text="The harbour festival opened.",
            published_at=moment,
            date_source=DateSource.META,
            crawled_at=CRAWLED,
        )
        for n, moment in enumerate(seconds)
    ]
    for n in range(0, len(articles), 4):  # several segments
        store.upsert(articles[n : n + 4])
    expected = [a.id for a in sorted(articles, key=lambda a: (-a.published_at.timestamp(), a.id))]
    base = SearchQuery(query=parse_query("harbour"), sort=Sort.DATE, facets=())
    for size in (1, 2, 3, 4, 5):
        by_offset = []
        for offset in range(0, len(articles), size):
            page = store.search(base.model_copy(update={"size": size, "offset": offset}))
            assert page.total == len(articles)
            by_offset += [hit.id for hit in page.hits]
        assert by_offset == expected, size
        by_cursor, after = [], None
        while True:
            page = store.search(base.model_copy(update={"size": size, "after": after}))
            by_cursor += [hit.id for hit in page.hits]
            if len(page.hits) < size:
                break
            after = page.last_sort
        assert by_cursor == expected, size
    store.close()
