"""Schema version 2: date provenance, the quality flag and revise()."""

from datetime import UTC, datetime, timedelta

import pytest
from newsagg.core.article import (
    MAX_REVISIONS,
    SCHEMA_VERSION,
    Article,
    DateSource,
    PreviousVersion,
    Quality,
    RevisionSummary,
    revise,
)
from pydantic import ValidationError

CRAWLED = datetime(2026, 9, 6, 10, tzinfo=UTC)
PUBLISHED = datetime(2026, 9, 6, 8, tzinfo=UTC)


def make(**overrides) -> Article:
    fields = {
        "url": "https://news.example/story",
        "source": "example",
        "title": "A headline",
        "text": "Some body text of the story.",
        "crawled_at": CRAWLED,
        "published_at": PUBLISHED,
        "date_source": DateSource.META,
        "date_confidence": 0.9,
    }
    fields.update(overrides)
    return Article.create(**fields)


def test_new_fields_default_for_an_undated_article():
    article = make(published_at=None, date_source=None, date_confidence=None)
    assert article.schema_version == SCHEMA_VERSION
    assert (article.quality, article.quality_score, article.quality_reasons) == (
        Quality.OK,
        1.0,
        [],
    )
    assert (article.revision, article.previous, article.revisions) == (1, None, [])
    assert article.listed_at is None
    assert article.date_notes == []


def test_version_2_round_trips_every_new_field():
    article = make(
        listed_at=PUBLISHED - timedelta(days=2),
        date_notes=["the feed's date is 2 days before the page's"],
        quality=Quality.LOW,
        quality_score=0.3,
        quality_reasons=["paywall", "short"],
    )
    revised = revise(article, make(text="A new body.", crawled_at=CRAWLED + timedelta(hours=1)))
    assert Article.from_json(revised.to_json()) == revised
    assert Article.from_json(article.to_json()).date_source == "meta"


def test_version_1_json_reads_with_a_date_and_no_source():
    data = make().model_dump(mode="json")
    for field in ("date_source", "date_confidence", "listed_at", "date_notes", "quality"):
        del data[field]
    for field in ("quality_score", "quality_reasons", "revision", "previous", "revisions"):
        del data[field]
    data["schema_version"] = 1
    old = Article.model_validate(data)
    assert old.published_at == PUBLISHED
    assert old.date_source is None
    assert old.revision == 1


def test_version_2_needs_the_source_of_its_date():
    with pytest.raises(ValidationError, match="needs its date_source"):
        make(date_source=None, date_confidence=None)


@pytest.mark.parametrize("provenance", [{"date_source": DateSource.URL}, {"date_confidence": 0.5}])
def test_no_date_means_no_provenance(provenance):
    fields = {"published_at": None, "date_source": None, "date_confidence": None}
    with pytest.raises(ValidationError, match="need a published_at"):
        make(**{**fields, **provenance})


@pytest.mark.parametrize("version", [0, SCHEMA_VERSION + 1])
def test_versions_outside_the_known_ones_are_refused(version):
    data = make().model_dump()
    data["schema_version"] = version
    with pytest.raises(ValidationError, match="unsupported schema_version"):
        Article.model_validate(data)


@pytest.mark.parametrize("field", ["date_confidence", "quality_score"])
def test_scores_are_between_0_and_1(field):
    with pytest.raises(ValidationError, match=field):
        make(**{field: 1.5})


def test_unknown_date_source_or_quality_is_refused():
    with pytest.raises(ValidationError, match="date_source"):
        make(date_source="guess")
    with pytest.raises(ValidationError, match="quality"):
        make(quality="medium")


def test_first_sight_is_revision_1():
    fetched = make()
    assert revise(None, fetched) is fetched


def test_a_stale_fetch_is_returned_unchanged():
    stored = make(crawled_at=CRAWLED + timedelta(hours=2))
    fetched = make(text="Older text.")
    assert revise(stored, fetched) is fetched


def test_a_refetch_with_the_same_text_is_not_a_revision():
    first = make()
    second = revise(first, make(text="Changed body.", crawled_at=CRAWLED + timedelta(hours=1)))
    again = make(text="Changed body.", crawled_at=CRAWLED + timedelta(hours=2))
    third = revise(second, again)
    assert third.revision == 2
    assert third.previous == second.previous
    assert third.revisions == second.revisions
    assert third.updated_at == second.updated_at == CRAWLED + timedelta(hours=1)
    assert third.crawled_at == again.crawled_at


def test_a_changed_text_is_the_next_revision():
    stored = make()
    fetched = make(title="A new headline", text="A new body.", crawled_at=CRAWLED + timedelta(1))
    revised = revise(stored, fetched)
    assert revised.id == stored.id
    assert (revised.title, revised.text, revised.revision) == ("A new headline", "A new body.", 2)
    assert revised.previous == PreviousVersion(
        title="A headline",
        text="Some body text of the story.",
        content_hash=stored.content_hash,
        crawled_at=CRAWLED,
    )
    assert revised.revisions == [
        RevisionSummary(
            revision=1,
            title="A headline",
            content_hash=stored.content_hash,
            crawled_at=CRAWLED,
            word_count=6,
        )
    ]
    assert revised.updated_at == fetched.crawled_at


def test_the_pages_own_update_time_counts_when_later_than_the_stored_crawl():
    stated = CRAWLED + timedelta(minutes=30)
    fetched = make(text="New.", updated_at=stated, crawled_at=CRAWLED + timedelta(hours=3))
    assert revise(make(), fetched).updated_at == stated


def test_an_update_time_from_before_the_stored_crawl_is_not_the_change():
    later = CRAWLED + timedelta(hours=3)
    fetched = make(text="New.", updated_at=CRAWLED - timedelta(hours=1), crawled_at=later)
    assert revise(make(), fetched).updated_at == later


def test_history_is_capped_at_the_latest_revisions():
    article = make(text="version 1")
    for n in range(2, MAX_REVISIONS + 5):
        fetched = make(text=f"version {n}", crawled_at=CRAWLED + timedelta(minutes=n))
        article = revise(article, fetched)
    assert article.revision == MAX_REVISIONS + 4
    assert len(article.revisions) == MAX_REVISIONS
    assert [s.revision for s in article.revisions] == list(range(4, MAX_REVISIONS + 4))
    assert article.previous is not None
    assert article.previous.text == f"version {MAX_REVISIONS + 3}"
    assert Article.from_json(article.to_json()) == article


def test_a_version_1_article_on_the_bus_revises_into_the_current_version():
    data = make().model_dump(exclude={"date_source", "date_confidence"})
    stored = Article.model_validate({**data, "schema_version": 1})
    fetched = make(text="The story, rewritten.", crawled_at=CRAWLED + timedelta(hours=1))
    revised = revise(stored, fetched)
    assert (revised.schema_version, revised.revision, revised.date_source) == (
        SCHEMA_VERSION,
        2,
        "meta",
    )
    assert Article.from_json(revised.to_json()) == revised
