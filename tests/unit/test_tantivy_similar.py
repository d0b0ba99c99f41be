"""More like this on an index holding deleted documents: every re-crawl, revision or
re-pointed copy deletes the document it replaces, and a word's document frequency still
counts the deleted ones until a merge. tantivy's own more_like_this then panics (its idf
asserts frequency <= documents; tantivy PR #2964); the store's must answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.article import Article

START = datetime(2026, 9, 1, tzinfo=UTC)


def _article(n: int, crawl: int) -> Article:
    """Every third article is about the festival; the rest about something else."""
    about = "harbour festival opened with lanterns and drums" if n % 3 == 0 else "quiet market"
    return Article.create(
        url=f"https://similar.example/{n}",
        source="similar-daily",
        title=f"Notes, day {n}",
        text=f"The {about}, night {n}.",
        crawled_at=START + timedelta(hours=crawl),
    )


def test_similar_answers_when_a_word_counts_more_documents_than_the_index_holds(tmp_path: Path):
    store = TantivyStore(tmp_path / "index", writable=True)
    store.ensure_schema()
    festival = range(0, 30, 3)
    try:
        store.upsert([_article(n, 0) for n in range(30)])
        store.upsert([_article(n, 1) for n in festival])  # re-crawled: 10 deleted, 30 live
        assert store.count() == 30

        hits = store.similar(_article(0, 0).id, size=9)

        assert {hit.id for hit in hits} == {_article(n, 0).id for n in festival if n != 0}
        assert store.similar("0" * 32) == []
    finally:
        store.close()
