"""The tantivy index layout as code: fields, the `news` analyzer, article <-> document.

Mirrors es_schema. Text fields are analysed by tantivy itself with the chain
text_analyzer describes; tantivy stores naive datetimes, ours are UTC, so every date
crosses here. The whole article (but its text) is kept as JSON in `doc` (stored, not
indexed), so a hit is read back without a field-by-field mapping.

An index keeps the layout it was made with (tantivy refuses to open it with another
schema): `Layout.of` reads it from meta.json, documents are written in it, and what it
lacks is said, not guessed (see Layout).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import tantivy
from newsagg.core.adapters.text_analyzer import MAX_TOKEN_BYTES, STEMMER_LANGUAGE
from newsagg.core.article import Article
from newsagg.core.search import NO_DATE
from tantivy import Filter, TextAnalyzerBuilder, Tokenizer

ANALYZER = "news"
EPOCH = datetime(1970, 1, 1)


def news_analyzer() -> tantivy.TextAnalyzer:
    """English analysis: split, drop huge tokens, lowercase, fold accents, stem."""
    return (
        TextAnalyzerBuilder(Tokenizer.simple())
        .filter(Filter.remove_long(MAX_TOKEN_BYTES))
        .filter(Filter.lowercase())
        .filter(Filter.ascii_fold())
        .filter(Filter.stemmer(STEMMER_LANGUAGE))
        .build()
    )


def schema() -> tantivy.Schema:
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
    builder.add_bytes_field("doc", stored=True, indexed=False)
    # Schema version 2's filters: one term each, fast for counting by value.
    builder.add_text_field("date_source", tokenizer_name="raw", fast=True)
    builder.add_text_field("quality", tokenizer_name="raw", fast=True)
    # Schema version 3's enrichment: filtered, faceted or grouped on, so fast; the group
    # keys are stored too, so collapsing reads them without parsing `doc`. The LSH band
    # keys are only looked up by term; the minhash stays in `doc` (stored, not indexed).
    keys = {"tokenizer_name": "raw", "index_option": "basic"}  # no positions or counts
    builder.add_text_field("people", fast=True, **keys)
    builder.add_text_field("story_id", stored=True, fast=True, **keys)
    builder.add_text_field("duplicate_group", stored=True, fast=True, **keys)
    builder.add_text_field("lsh_bands", **keys)
    return builder.build()


FILTER_FIELDS = ("date_source", "quality", "people", "story_id", "duplicate_group", "lsh_bands")
"""Fields added after the first layout; an index made before lacks them."""
REBUILD = "rebuild it from the bus with `newsagg repair --index` (stop the indexer first)"


@dataclass(frozen=True)
class Layout:
    """What an index on disk holds: how `doc` is stored and which filter fields it lacks.

    An index made before a field was added keeps working in its own layout (read, and
    written without that field) until it is rebuilt; a filter on a missing field fails
    with ports.IndexOutdated instead of matching nothing.
    """

    doc_as_text: bool = False
    missing: frozenset[str] = frozenset()

    @classmethod
    def of(cls, index_dir: Path) -> Layout:
        fields = json.loads((index_dir / "meta.json").read_bytes())["schema"]
        names = {field["name"] for field in fields}
        return cls(
            doc_as_text=stores_doc_as_text(index_dir),
            missing=frozenset(name for name in FILTER_FIELDS if name not in names),
        )

    def describe(self, path: Path) -> str:
        """The warning an operator gets when such an index is opened."""
        return (
            f"the index at {path} was made before the fields {sorted(self.missing)}: it is"
            " read and written as it is, but filters, facets and stories on them fail and"
            f" nothing collapses; {REBUILD}"
        )


CURRENT = Layout()


def stores_doc_as_text(index_dir: Path) -> bool:
    """Whether an index made before the `doc` field became stored-only bytes is at index_dir.

    That layout also indexed the whole JSON as one term per article, which cost ~40 % of
    the indexing CPU and was never searched; its indexes keep working (read and written
    in their layout) until they are rebuilt (`newsagg repair --index`).
    """
    fields = json.loads((index_dir / "meta.json").read_bytes())["schema"]
    return any(field["name"] == "doc" and field["type"] == "text" for field in fields)


def naive_utc(value: datetime) -> datetime:
    """tantivy stores naive datetimes; ours are UTC."""
    return value.astimezone(UTC).replace(tzinfo=None)


def from_nanos(nanos: int) -> datetime:
    """tantivy's sort keys for dates are nanoseconds since the epoch (naive UTC)."""
    return EPOCH + timedelta(microseconds=nanos // 1000)


def nanos_of(value: datetime) -> int:
    """A datetime as tantivy's fast-field key for dates: nanoseconds since the epoch (UTC)."""
    delta = naive_utc(value) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def nanos_value(value: float | None) -> datetime | None:
    """A max over a date field: float nanoseconds, None when no document has one."""
    if value is None:
        return None
    return (EPOCH + timedelta(seconds=round(value / 1e9))).replace(tzinfo=UTC)


def enrichment_terms(article: Article) -> dict[str, list[str]]:
    """The enrichment's indexed values. An article not (yet) enriched is its own
    near-duplicate group and its own story, so grouping never lumps such articles together."""
    return {
        "people": article.people,
        "story_id": [article.story_id or article.id],
        "duplicate_group": [article.duplicate_group or article.id],
        "lsh_bands": article.lsh_bands,
    }


def to_document(article: Article, layout: Layout = CURRENT) -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_text("id", article.id)
    doc.add_text("title", article.title)
    doc.add_text("text", article.text)
    for author in article.authors:
        doc.add_text("authors", author)
        doc.add_text("author_text", author)
    doc.add_text("source", article.source)
    if article.language:
        doc.add_text("language", article.language)
    if article.published_at:
        doc.add_date("published_at", naive_utc(article.published_at))
    doc.add_date("sort_date", naive_utc(article.published_at or article.crawled_at))
    doc.add_date("crawled_at", naive_utc(article.crawled_at))
    if "date_source" not in layout.missing:
        date_source = article.date_source or (NO_DATE if article.published_at is None else None)
        if date_source is not None:  # a version-1 date has no source: no filter finds it
            doc.add_text("date_source", date_source)
    if "quality" not in layout.missing:
        doc.add_text("quality", article.quality)
    for field, values in enrichment_terms(article).items():
        if field not in layout.missing:
            for value in values:
                doc.add_text(field, value)
    if layout.doc_as_text:
        doc.add_text("doc", article.model_dump_json(exclude={"text"}))
    else:
        doc.add_bytes("doc", article.model_dump_json(exclude={"text"}).encode("utf-8"))
    return doc


def from_document(doc: tantivy.Document) -> Article:
    fields = json.loads(doc.get_first("doc"))
    fields["text"] = doc.get_first("text")
    return Article.model_validate(fields)
