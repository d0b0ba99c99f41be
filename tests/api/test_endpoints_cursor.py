"""Cursors are opaque, bound to their query, and refuse anything forged; timelines are bounded."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from newsagg.api.app import create_app
from newsagg.core.query import parse_query
from newsagg.core.search import (
    DATE_KEY_LIMIT,
    MAX_CURSOR_CHARS,
    MAX_CURSOR_POSITION,
    Hit,
    InvalidCursor,
    SearchPage,
    SearchQuery,
    Sort,
    TimeBucket,
    apply_cursor,
    encode_cursor,
    fingerprint,
)
from newsagg.core.settings import Settings


def article_id(n: int) -> str:
    return f"{n:032x}"


def hit(n: int) -> Hit:
    return Hit(
        id=article_id(n),
        url=f"https://news.example/{n}",
        title="t",
        source="s",
        published_at=None,
        authors=[],
        language=None,
        snippet="",
        score=1.0,
    )


QUERY = SearchQuery(query=parse_query("Soman"), sort=Sort.DATE, size=2)
PAGE = SearchPage(total=5, hits=[hit(1), hit(2)], last_sort=(1_700_000_000_000, article_id(2)))


def forge(**state: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def test_a_cursor_leads_to_the_next_page_and_none_past_the_end():
    cursor = encode_cursor(QUERY, PAGE)
    assert cursor is not None
    following = apply_cursor(QUERY, cursor)
    assert (following.after, following.offset) == ((1_700_000_000_000, article_id(2)), 2)
    last = SearchPage(total=3, hits=[hit(3)], last_sort=(1, article_id(3)))
    assert encode_cursor(following, last) is None


def test_a_cursor_is_bound_to_its_query_filters_and_sort():
    cursor = encode_cursor(QUERY, PAGE)
    assert cursor is not None
    for other in (
        QUERY.model_copy(update={"query": parse_query("film")}),
        QUERY.model_copy(update={"sources": ("reel-news",)}),
        QUERY.model_copy(update={"sort": Sort.RELEVANCE}),
    ):
        with pytest.raises(InvalidCursor):
            apply_cursor(other, cursor)
    apply_cursor(QUERY.model_copy(update={"size": 50}), cursor)  # the page size may change


ID = article_id(7)


@pytest.mark.parametrize(
    "after",
    [
        [float("nan"), ID],
        [2**70, ID],
        [True, ID],
        ["x", ID],
        [1],
        [1, 2],
        {"a": 1},
        [1.5, ID],  # a date key is an integer
        [1, "id"],  # not an article id
        [1, ID, 2],
        [DATE_KEY_LIMIT + 1, ID],
        [-DATE_KEY_LIMIT - 1, ID],
        [-(2**63) + 1, ID],  # tantivy cannot read this date (the 500)
        [[[[1]]], ID],
    ],
)
def test_forged_sort_values_are_refused(after: object):
    state = {"v": 1, "sort": "date", "after": after, "n": 2, "q": fingerprint(QUERY)}
    with pytest.raises(InvalidCursor, match="malformed"):
        apply_cursor(QUERY, forge(**state))


@pytest.mark.parametrize(
    "after", [[-1.0, ID], [float("inf"), ID], [1e39, ID], [True, ID], [None, ID], ["1", ID]]
)
def test_forged_scores_are_refused(after: object):
    query = QUERY.model_copy(update={"sort": Sort.RELEVANCE})
    state = {"v": 1, "sort": "relevance", "after": after, "n": 2, "q": fingerprint(query)}
    with pytest.raises(InvalidCursor, match="malformed"):
        apply_cursor(query, forge(**state))


def test_the_bounds_themselves_are_accepted():
    for sort, key in (("date", DATE_KEY_LIMIT), ("date", -DATE_KEY_LIMIT), ("relevance", 0.0)):
        query = QUERY.model_copy(update={"sort": Sort(sort)})
        cursor = forge(v=1, sort=sort, after=[key, ID], n=MAX_CURSOR_POSITION, q=fingerprint(query))
        assert apply_cursor(query, cursor).after == (key, ID)


@pytest.mark.parametrize(
    "state",
    [
        {"n": -1},
        {"n": MAX_CURSOR_POSITION + 1},
        {"n": 10**40},
        {"n": "2"},
        {"n": 2.0},
        {"v": "1"},
        {"v": 10**40},
        {"sort": "newest"},
        {"q": "x" * 16},
        {"q": ["b049b8be7b200ea4"]},
        {"extra": 1},
    ],
)
def test_forged_fields_are_refused(state: dict[str, object]):
    fields = {"v": 1, "sort": "date", "after": [1, ID], "n": 2, "q": fingerprint(QUERY), **state}
    with pytest.raises(InvalidCursor, match="malformed"):
        apply_cursor(QUERY, forge(**fields))


def deep(levels: int) -> str:
    return base64.urlsafe_b64encode(("[" * levels + "]" * levels).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        forge(v=2, sort="date", after=[1, ID], n=1, q=fingerprint(QUERY)),
        "Infinity",
        "ü",
        "[]",
        "e30=",  # {}
        "eyJ2Ijox fQ==",  # base64 with a space inside
        "eyJ2IjoxfQ=!",
        deep(100),
        deep(3000),  # the RecursionError, had it not been too long
        "A" * (MAX_CURSOR_CHARS + 1),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_unknown_versions_and_garbage_are_refused(cursor: str):
    with pytest.raises(InvalidCursor):
        apply_cursor(QUERY, cursor)


class DecadesOfNews:
    """A store whose matches span thirty years: too many hours to list."""

    def search(self, query: SearchQuery) -> SearchPage:
        return SearchPage(total=2, hits=[])

    def timeline(self, query: SearchQuery, interval: object) -> list[TimeBucket]:
        start = datetime(1996, 1, 1, tzinfo=UTC)
        return [
            TimeBucket(start=start, count=1),
            TimeBucket(start=start + timedelta(days=10_950), count=1),
        ]

    def close(self) -> None:
        pass


def test_a_timeline_of_too_many_buckets_is_a_422():
    with TestClient(create_app(Settings(), store=DecadesOfNews())) as client:  # type: ignore[arg-type]
        assert client.get("/v1/timeline", params={"interval": "hour"}).status_code == 422
        weekly = client.get("/v1/timeline", params={"interval": "week"})
    assert weekly.status_code == 200
    assert len(weekly.json()["buckets"]) == 10_950 // 7 + 1
