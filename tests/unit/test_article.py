from datetime import UTC, datetime, timedelta, timezone

import pytest
from newsagg.core.article import Article, DateSource, article_id, canonicalize_url
from pydantic import ValidationError


def make(**overrides) -> Article:
    fields = {
        "url": "https://news.example/story?utm_source=feed",
        "source": "example",
        "title": "A headline",
        "text": "Some body text of the story.",
        "crawled_at": datetime(2026, 9, 6, 10, tzinfo=UTC),
    }
    fields.update(overrides)
    return Article.create(**fields)


def test_canonical_url_drops_tracking_and_fragment():
    assert (
        canonicalize_url("HTTPS://News.Example/a/b?utm_source=x&id=7&fbclid=1#top")
        == "https://news.example/a/b?id=7"
    )


@pytest.mark.parametrize("url", ["ftp://x.example/a", "javascript:alert(1)", "not a url", ""])
def test_canonical_url_rejects_non_http(url):
    with pytest.raises(ValueError, match="not an http"):
        canonicalize_url(url)


def test_id_is_stable_hash_of_canonical_url():
    a = make()
    b = make(url="https://NEWS.example/story?utm_medium=social")
    assert a.id == b.id == article_id("https://news.example/story")
    assert len(a.id) == 32


def test_rel_canonical_decides_the_id():
    amp = make(url="https://news.example/amp/story", canonical_url="https://news.example/story")
    assert amp.id == make().id
    assert amp.url == "https://news.example/amp/story"


def test_derived_fields():
    article = make(text="one two three")
    assert article.word_count == 3
    assert article.content_hash != make(text="one two four").content_hash


def test_json_round_trip():
    article = make(
        authors=["A. Writer"],
        published_at=datetime(2026, 9, 6, 8, tzinfo=UTC),
        date_source=DateSource.JSON_LD,
        date_confidence=1.0,
    )
    assert Article.from_json(article.to_json()) == article


def test_datetimes_are_normalised_to_utc():
    ist = timezone(timedelta(hours=5, minutes=30))
    article = make(published_at=datetime(2026, 9, 6, 10, tzinfo=ist), date_source="meta")
    assert article.published_at == datetime(2026, 9, 6, 4, 30, tzinfo=UTC)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValidationError, match="timezone"):
        make(published_at=datetime(2026, 9, 6, 10))


def test_tampered_id_is_refused():
    data = make().model_dump()
    data["id"] = "0" * 32
    with pytest.raises(ValidationError, match="hash of canonical_url"):
        Article.model_validate(data)


def test_unknown_schema_version_is_refused():
    data = make().model_dump()
    data["schema_version"] = 99
    with pytest.raises(ValidationError, match="schema_version"):
        Article.model_validate(data)


def test_empty_text_is_refused():
    with pytest.raises(ValidationError):
        make(text="")
