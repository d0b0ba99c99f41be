"""Article schema 3: mentions and the enrichment fields default, round-trip, and keep their
ids well-formed; older messages read with them at their defaults."""

from datetime import UTC, datetime

import pytest
from newsagg.core.article import SCHEMA_VERSION, Article, DateSource, revise
from newsagg.core.search import (
    Collapse,
    Hit,
    InvalidCursor,
    SearchPage,
    SearchQuery,
    apply_cursor,
    encode_cursor,
)
from pydantic import ValidationError

CRAWLED = datetime(2026, 9, 6, 10, tzinfo=UTC)
ENRICHMENT = {
    "enrichment": 1,
    "minhash": "AAECAwQ=",
    "lsh_bands": ["0-1f2e", "1-aa09"],
    "duplicate_group": "a" * 32,
    "duplicate_of": "a" * 32,
    "story_id": "b" * 32,
    "people": ["Milind Soman"],
}


def make(**overrides) -> Article:
    fields = {
        "url": "https://news.example/ride",
        "source": "example",
        "title": "A ride north",
        "text": "Milind Soman cycled north.",
        "crawled_at": CRAWLED,
        "published_at": CRAWLED,
        "date_source": DateSource.META,
        **overrides,
    }
    return Article.create(**fields)


def test_a_crawled_article_is_not_enriched():
    article = make(mentions=["Milind Soman"])
    assert article.schema_version == SCHEMA_VERSION == 3
    assert (article.enrichment, article.minhash, article.lsh_bands) == (0, None, [])
    assert (article.duplicate_group, article.duplicate_of, article.story_id) == (None,) * 3
    assert (article.people, article.mentions) == ([], ["Milind Soman"])


def test_enrichment_fields_round_trip():
    article = make(mentions=["Milind Soman"]).model_copy(update=ENRICHMENT)
    assert Article.from_json(article.to_json()) == article


@pytest.mark.parametrize("version", [1, 2])
def test_older_messages_read_with_the_new_fields_at_their_defaults(version):
    data = make().model_dump(mode="json")
    for field in ("mentions", *ENRICHMENT):
        del data[field]
    data["schema_version"] = version
    old = Article.model_validate(data)
    assert (old.enrichment, old.people, old.story_id) == (0, [], None)


@pytest.mark.parametrize("field", ["duplicate_group", "duplicate_of", "story_id"])
def test_group_ids_are_article_ids(field):
    data = make().model_dump()
    data[field] = "not-an-id"
    with pytest.raises(ValidationError, match=field):
        Article.model_validate(data)


def test_revise_keeps_the_fetched_article_for_enrichment_to_fill():
    stored = make().model_copy(update=ENRICHMENT)
    fetched = make(text="Milind Soman cycled north to Delhi.", crawled_at=CRAWLED.replace(hour=11))
    revised = revise(stored, fetched)
    assert revised.revision == 2
    assert (revised.enrichment, revised.story_id) == (0, None)


def hit(n: int) -> Hit:
    return Hit(
        id=f"{n:032x}",
        url=f"https://news.example/{n}",
        title="A ride",
        source="example",
        published_at=None,
        authors=[],
        language=None,
        snippet="",
        score=1.0,
    )


def test_a_collapsed_pages_cursor_ends_at_its_last_group_and_keeps_the_collapse():
    query = SearchQuery(collapse=Collapse.DUPLICATES, size=2)
    hits = [hit(1), hit(2)]
    last = SearchPage(total=9, groups=2, hits=hits, last_sort=(1.0, hits[-1].id))
    assert encode_cursor(query, last) is None  # 9 articles, but only 2 groups
    more = last.model_copy(update={"groups": 5})
    cursor = encode_cursor(query, more)
    assert cursor is not None
    assert apply_cursor(query, cursor).offset == 2
    with pytest.raises(InvalidCursor, match="another query"):
        apply_cursor(query.model_copy(update={"collapse": Collapse.NONE}), cursor)
