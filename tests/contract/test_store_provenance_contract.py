"""What every SearchStore promises about schema version 2: the history read back in one
round trip (get_many), filters on date provenance and extraction quality, the hits'
provenance and revision fields, and a timeline of publication dates only (issue 17)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from newsagg.core.article import Article, DateSource, Quality, revise
from newsagg.core.search import Interval, SearchQuery
from support.stores import StorePair

CRAWLED = datetime(2026, 10, 1, 6, tzinfo=UTC)
OLD_FIELDS = (
    *("id", "url", "canonical_url", "source", "title", "text", "summary", "authors"),
    *("published_at", "updated_at", "crawled_at", "language", "section", "tags"),
    *("image_url", "word_count", "content_hash"),
)
"""Schema version 1's fields."""


def story(slug: str, published_day: int | None, source: DateSource | None, **extra) -> Article:
    dated = (
        {
            "published_at": datetime(2026, 9, published_day, 9, tzinfo=UTC),
            "date_source": source,
            "date_confidence": 0.8,
        }
        if published_day is not None
        else {}
    )
    return Article.create(
        url=f"https://provenance.example/{slug}",
        source="provenance",
        title=f"The {slug} story",
        text=f"A harbour report about the {slug} of the week, with boats and tides.",
        crawled_at=CRAWLED,
        **dated,
        **extra,
    )


LD = story("regatta", 3, DateSource.JSON_LD)
META = story("ferry", 4, DateSource.META, quality=Quality.LOW, quality_score=0.2)
URL = story("lighthouse", 5, DateSource.URL)
FEED = story("pier", 6, DateSource.FEED, listed_at=datetime(2026, 9, 6, 8, tzinfo=UTC))
UNDATED = story("storm", None, None, quality=Quality.LOW, quality_reasons=["teaser"])
CORPUS = [LD, META, URL, FEED, UNDATED]


def version_1(article: Article) -> Article:
    """The same article as the crawler wrote it before date provenance existed."""
    newer = set(Article.model_fields) - set(OLD_FIELDS)
    data = article.model_dump(exclude=newer)
    return Article.model_validate({**data, "schema_version": 1})


@pytest.fixture
def indexed(stores: StorePair) -> StorePair:
    stores.writer.upsert(CORPUS)
    return stores


def ids(stores: StorePair, **filters) -> set[str]:
    reader = stores.open_reader()
    try:
        return {hit.id for hit in reader.search(SearchQuery(size=20, **filters)).hits}
    finally:
        reader.close()


def test_get_many_returns_the_stored_articles_of_the_ids_it_holds(indexed: StorePair):
    unknown = "f" * 32
    for store in (indexed.writer, indexed.open_reader()):
        found = store.get_many([LD.id, unknown, UNDATED.id, LD.id])
        assert found == {LD.id: LD, UNDATED.id: UNDATED}
        assert store.get_many([]) == {}
        assert store.get_many([unknown]) == {}


def test_get_many_sees_the_last_upsert_at_once(indexed: StorePair):
    """The indexer merges each batch with what the batch before it wrote."""
    fetched = LD.model_copy(
        update={
            "text": "Rewritten.",
            "content_hash": "0" * 32,
            "crawled_at": CRAWLED + timedelta(1),
        }
    )
    revised = revise(indexed.writer.get_many([LD.id])[LD.id], fetched)
    indexed.writer.upsert([revised])
    held = indexed.writer.get_many([LD.id])[LD.id]
    assert held == revised
    assert held.revision == 2
    assert held.previous is not None
    assert held.previous.text == LD.text


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        (("json-ld",), {LD.id}),
        (("meta", "url"), {META.id, URL.id}),
        (("feed",), {FEED.id}),
        (("sitemap",), set()),
        (("none",), {UNDATED.id}),
        (("none", "json-ld"), {UNDATED.id, LD.id}),
    ],
)
def test_filter_by_date_source(indexed: StorePair, sources, expected):
    assert ids(indexed, date_sources=sources) == expected


def test_filter_by_quality(indexed: StorePair):
    assert ids(indexed, quality="low") == {META.id, UNDATED.id}
    assert ids(indexed, quality="ok") == {LD.id, URL.id, FEED.id}
    assert ids(indexed, quality="low", date_sources=("none",)) == {UNDATED.id}


def test_a_version_1_article_is_kept_and_found_by_no_date_source(stores: StorePair):
    old = version_1(URL)
    assert old.date_source is None
    assert old.published_at is not None
    stores.writer.upsert([old, UNDATED])
    assert stores.open_reader().get(old.id) == old
    assert ids(stores, quality="ok") == {old.id}
    assert ids(stores, date_sources=("none",)) == {UNDATED.id}
    assert ids(stores, date_sources=tuple(DateSource)) == set()


def test_hits_carry_provenance_quality_and_revision(indexed: StorePair):
    retitled = revise(
        FEED,
        Article.create(
            url=FEED.url,
            source=FEED.source,
            title="The pier story, corrected",
            text=FEED.text,
            crawled_at=CRAWLED + timedelta(hours=3),
            published_at=FEED.published_at,
            date_source=DateSource.FEED,
            date_confidence=0.8,
        ),
    )
    retexted = revise(
        URL,
        URL.model_copy(
            update={
                "text": "New text.",
                "content_hash": "1" * 32,
                "crawled_at": CRAWLED + timedelta(hours=4),
            }
        ),
    )
    indexed.writer.upsert([retitled, retexted])
    reader = indexed.open_reader()
    hits = {hit.id: hit for hit in reader.search(SearchQuery(size=20)).hits}
    reader.close()
    assert (hits[LD.id].date_source, hits[LD.id].date_confidence) == ("json-ld", 0.8)
    assert (hits[LD.id].quality, hits[LD.id].revision, hits[LD.id].updated_at) == ("ok", 1, None)
    assert hits[LD.id].previous_title is None
    assert (hits[UNDATED.id].date_source, hits[UNDATED.id].date_confidence) == (None, None)
    assert hits[UNDATED.id].quality == "low"
    assert hits[FEED.id].revision == 2
    assert hits[FEED.id].updated_at == CRAWLED + timedelta(hours=3)
    assert hits[FEED.id].previous_title == "The pier story"
    assert hits[URL.id].revision == 2
    assert hits[URL.id].previous_title is None  # only the text changed


def test_the_timeline_counts_publication_dates_never_crawl_dates(indexed: StorePair):
    reader = indexed.open_reader()
    days = reader.timeline(SearchQuery(), Interval.DAY)
    reader.close()
    assert {bucket.start.day: bucket.count for bucket in days} == {3: 1, 4: 1, 5: 1, 6: 1}
    assert CRAWLED.date() not in {bucket.start.date() for bucket in days}
