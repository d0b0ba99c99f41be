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


def hit(n: int) -> Hit:
    return Hit(
        id=f"id{n}",
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
PAGE = SearchPage(total=5, hits=[hit(1), hit(2)], last_sort=(1_700_000_000_000, "id2"))


def forge(**state: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def test_a_cursor_leads_to_the_next_page_and_none_past_the_end():
    cursor = encode_cursor(QUERY, PAGE)
    assert cursor is not None
    following = apply_cursor(QUERY, cursor)
    assert (following.after, following.offset) == ((1_700_000_000_000, "id2"), 2)
    last = SearchPage(total=3, hits=[hit(3)], last_sort=(1, "id3"))
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


@pytest.mark.parametrize(
    "after",
    [[float("nan"), "id"], [2**70, "id"], [True, "id"], ["x", "id"], [1], [1, 2], {"a": 1}],
)
def test_forged_sort_values_are_refused(after: object):
    state = {"v": 1, "sort": "date", "after": after, "n": 2, "q": fingerprint(QUERY)}
    with pytest.raises(InvalidCursor, match="malformed"):
        apply_cursor(QUERY, forge(**state))


@pytest.mark.parametrize(
    "cursor",
    [forge(v=2, sort="date", after=[1, "a"], n=1, q=fingerprint(QUERY)), "Infinity", "ü", "[]"],
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
