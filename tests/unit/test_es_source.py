"""The bytes an Elasticsearch upsert sends are the article's JSON fields and its derived fields.

ElasticsearchStore encodes documents with to_source (pydantic's JSON of the article, the
derived fields appended) because one json.dumps of the whole dict cost more on the thread
that builds every request; searches, highlighting, more-like-this and reindexing all read
that _source, so it must hold the very same fields and values.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from newsagg.core.adapters import es_schema as schema
from newsagg.core.adapters.text_analyzer import TextAnalyzer, _TermCache
from newsagg.core.article import Article, DateSource

CRAWLED = datetime(2025, 4, 17, 21, 1, 44, 250_000, tzinfo=UTC)


def _document(article: Article, analyzer: TextAnalyzer) -> dict[str, object]:
    """The document as a dict built the plain way: the article's JSON, the derived fields."""
    return article.model_dump(mode="json") | schema.derived_fields(article, analyzer)


def _article(**fields: object) -> Article:
    return Article.create(
        url="https://example.test/2025/04/naive-cafe",
        source="example",
        title="Naïve café “reopens” — Ærøskøbing’s 3.5km walk",
        text="The café on Ærøskøbing’s harbour reopened. 日本語のニュース too; don't stop.",
        crawled_at=CRAWLED,
        **fields,
    )


def test_source_bytes_decode_to_the_document() -> None:
    analyzer = TextAnalyzer()
    plain = _article()
    published = _article(
        published_at=datetime(2025, 4, 16, 8, 0, tzinfo=UTC),
        date_source=DateSource.JSON_LD,
        authors=["Ana María Pérez", "Omar Müller"],
        duplicate_group="0" * 32,
        story_id="f" * 32,
    )
    for article in (plain, published):
        document = _document(article, analyzer)
        assert json.loads(schema.to_source(article, analyzer)) == document
        assert set(schema.DERIVED_FIELDS) <= set(document)
    assert _document(plain, analyzer)["sort_date"] == "2025-04-17T21:01:44.250000Z"
    assert _document(published, analyzer)["sort_date"] == "2025-04-16T08:00:00Z"
    assert _document(plain, analyzer)[schema.STORY_KEY] == plain.id
    assert _document(published, analyzer)[schema.STORY_KEY] == "f" * 32


def test_source_round_trips_to_the_article() -> None:
    article = _article(authors=["Omar Müller"], tags=["harbour"])
    source = json.loads(schema.to_source(article, TextAnalyzer()))
    assert schema.from_source(source) == article


def test_term_cache_is_bounded_and_changes_no_term() -> None:
    text = " ".join(f"word{i} cycling cafés" for i in range(50))
    expected = TextAnalyzer().analyze(text)
    small = TextAnalyzer()
    small._terms = _TermCache(small._term_of, 8)
    assert small.analyze(text) == expected
    assert small.analyze(text) == expected
    assert 0 < len(small._terms) <= 8
