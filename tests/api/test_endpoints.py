"""Every endpoint of the search API, on both stores, over the same demo corpus."""

from __future__ import annotations

import base64
import csv
import io
import itertools
import json
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from endpoint_fixtures import CONFIGURED, Api, api_fixture  # noqa: F401 - the `api` fixture
from newsagg.core.search import DATE_KEY_LIMIT


def get(api: Api, path: str, **params: Any) -> dict[str, Any]:
    response = api.client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def count(api: Api, **where: Any) -> int:
    return sum(all(getattr(a, k) == v for k, v in where.items()) for a in api.corpus)


def walk(api: Api, size: int, **params: Any) -> tuple[list[str], int, int]:
    """(ids of every page followed by cursor, total, pages)."""
    ids: list[str] = []
    page = get(api, "/v1/search", size=size, **params)
    pages = 1
    while page["next_cursor"] is not None:
        assert len(page["hits"]) == size
        ids += [hit["id"] for hit in page["hits"]]
        page = get(api, "/v1/search", size=size, cursor=page["next_cursor"], **params)
        pages += 1
    return ids + [hit["id"] for hit in page["hits"]], page["total"], pages


# -- search ----------------------------------------------------------------------


def test_search_ranks_highlights_and_describes_hits(api: Api):
    page = get(api, "/v1/search", q="Milind Soman cycling")
    top = page["hits"][0]
    assert top["url"].endswith("milind-soman-ankita-konwar-roadside-romance-cycling.html")
    assert {"id", "url", "title", "source", "authors", "published_at", "language"} <= set(top)
    assert "<mark>" in top["snippet"]
    assert top["score"] > 0
    assert page["query"] == "Milind Soman cycling"


def test_sources_filter_and_its_alias(api: Api):
    expected = count(api, source="reel-news")
    for name in ("sources", "source"):
        page = get(api, "/v1/search", size=100, **{name: "reel-news"})
        assert page["total"] == expected > 0
        assert {hit["source"] for hit in page["hits"]} == {"reel-news"}
    both = get(api, "/v1/search", sources=["reel-news", "marquee-daily"])
    assert both["total"] == len(api.corpus)


def test_exclude_sources(api: Api):
    page = get(api, "/v1/search", size=100, exclude_sources="reel-news")
    assert page["total"] == len(api.corpus) - count(api, source="reel-news")
    assert "reel-news" not in {hit["source"] for hit in page["hits"]}


def test_authors_and_language_filters(api: Api):
    by_author = sum("Meera Iyer" in a.authors for a in api.corpus)
    page = get(api, "/v1/search", size=100, authors="Meera Iyer")
    assert page["total"] == by_author > 0
    assert all("Meera Iyer" in hit["authors"] for hit in page["hits"])
    hindi = get(api, "/v1/search", size=100, language="hi")
    assert hindi["total"] == count(api, language="hi") > 0
    assert {hit["language"] for hit in hindi["hits"]} == {"hi"}


def test_date_range(api: Api):
    page = get(api, "/v1/search", size=100, **{"from": "2026-10-01", "to": "2026-10-31"})
    expected = sum(
        datetime(2026, 10, 1, tzinfo=UTC) <= a.published_at < datetime(2026, 11, 1, tzinfo=UTC)
        for a in api.corpus
        if a.published_at
    )
    assert page["total"] == expected > 0


@pytest.mark.parametrize("q", [None, "Soman", "film OR series"])
def test_cursor_walks_every_date_sorted_result_once_in_order(api: Api, q: str | None):
    ids, total, pages = walk(api, 5, sort="date", **({"q": q} if q else {}))
    assert len(ids) == len(set(ids)) == total > 0
    assert pages == -(-total // 5)
    by_date = sorted(api.corpus, key=lambda a: (-a.published_at.timestamp(), a.id))
    assert ids == [a.id for a in by_date if a.id in set(ids)]


@pytest.mark.parametrize("q", [None, "Milind Soman", "film OR series"])
def test_cursor_walks_every_relevance_result_once(api: Api, q: str | None):
    """Without q every score ties: the order then rests on the id alone."""
    ids, total, _ = walk(api, 7, **({"q": q} if q else {}))
    assert len(ids) == len(set(ids)) == total > 0
    if q is None:
        assert total == len(api.corpus)


def test_cursor_pages_match_offset_pages(api: Api):
    first = get(api, "/v1/search", q="Soman", sort="date", size=4)
    second = get(api, "/v1/search", q="Soman", sort="date", size=4, cursor=first["next_cursor"])
    by_offset = get(api, "/v1/search", q="Soman", sort="date", size=4, offset=4)
    assert [h["id"] for h in second["hits"]] == [h["id"] for h in by_offset["hits"]]
    assert second["offset"] == 4


def test_last_page_has_no_cursor(api: Api):
    page = get(api, "/v1/search", size=100)
    assert len(page["hits"]) == len(api.corpus)
    assert page["next_cursor"] is None


@pytest.mark.parametrize("cursor", ["not-a-cursor", "eyJ2IjoxfQ", "%%%", "e30="])
def test_malformed_cursor_is_a_400(api: Api, cursor: str):
    response = api.client.get("/v1/search", params={"cursor": cursor})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "cursor" in response.json()["detail"]


def reforged(cursor: str, key: object = None, **change: object) -> str:
    """A real cursor with its sort key (`key`) or other fields replaced."""
    state = json.loads(base64.urlsafe_b64decode(cursor))
    if key is not None:
        state["after"] = [key, state["after"][1]]
    return base64.urlsafe_b64encode(json.dumps({**state, **change}).encode()).decode()


def nested(levels: int) -> str:
    return base64.urlsafe_b64encode(("[" * levels + "]" * levels).encode()).decode()


@pytest.mark.parametrize(
    ("sort", "change"),
    [
        ("date", {"key": -(2**63) + 1}),  # a date tantivy cannot read: was a 500
        ("date", {"key": 2**64}),
        ("date", {"key": 1.5e300}),
        ("date", {"after": [1, "0" * 31]}),
        ("date", {"n": 2**64}),
        ("date", {"n": "2"}),
        ("date", {"v": [1]}),
        ("relevance", {"key": -1.0}),
        ("relevance", {"key": "NaN"}),
        ("relevance", {"after": [1.0, {"id": "0" * 32}]}),
    ],
)
def test_every_forged_cursor_is_a_400(api: Api, sort: str, change: dict[str, object]):
    cursor = get(api, "/v1/search", sort=sort, size=2)["next_cursor"]
    response = api.client.get(
        "/v1/search", params={"sort": sort, "cursor": reforged(cursor, **change)}
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "malformed cursor" in response.json()["detail"]


@pytest.mark.parametrize(
    "cursor",
    [nested(2500), nested(150), "eyJ2IjoxfQ!!", "A" * 600],  # nested(2500) was a RecursionError
)
def test_a_cursor_too_deep_long_or_not_base64_is_a_400(api: Api, cursor: str):
    response = api.client.get("/v1/search", params={"sort": "date", "cursor": cursor})
    assert response.status_code == 400, response.text
    assert "malformed cursor" in response.json()["detail"]


def test_a_cursor_at_the_edge_of_the_dates_pages_on(api: Api):
    """The oldest date key a cursor may hold is read by both stores: the rest is empty."""
    cursor = get(api, "/v1/search", sort="date", size=2, collapse="none")["next_cursor"]
    oldest = reforged(cursor, key=-DATE_KEY_LIMIT)
    page = get(api, "/v1/search", sort="date", size=2, collapse="none", cursor=oldest)
    assert page["hits"] == []


def test_cursor_of_another_query_is_a_400(api: Api):
    cursor = get(api, "/v1/search", q="Soman", size=2)["next_cursor"]
    response = api.client.get("/v1/search", params={"q": "film", "cursor": cursor})
    assert response.status_code == 400
    assert "another query" in response.json()["detail"]
    response = api.client.get("/v1/search", params={"q": "Soman", "sort": "date", "cursor": cursor})
    assert response.status_code == 400


def test_facets_are_computed_as_asked(api: Api):
    assert set(get(api, "/v1/search")["facets"]) == {"source"}
    page = get(api, "/v1/search", facets="source,author,language,day")
    assert set(page["facets"]) == {"source", "author", "language", "day"}
    languages = Counter(a.language for a in api.corpus)
    assert {f["value"]: f["count"] for f in page["facets"]["language"]} == languages
    assert sum(f["count"] for f in page["facets"]["day"]) == len(api.corpus)
    assert get(api, "/v1/search", facets="")["facets"] == {}
    response = api.client.get("/v1/search", params={"facets": "source,colour"})
    assert response.status_code == 422
    assert "colour" in response.json()["detail"]


def test_bad_query_and_parameters(api: Api):
    response = api.client.get("/v1/search", params={"q": '"roadside romance'})
    assert response.status_code == 400
    assert response.json()["position"] == 0
    assert api.client.get("/v1/search", params={"size": 101}).status_code == 422
    assert api.client.get("/v1/search", params={"from": "last week"}).status_code == 422


# -- articles ------------------------------------------------------------------


def test_article_and_similar(api: Api):
    cycling = get(api, "/v1/search", q="Milind Soman cycling")["hits"][0]["id"]
    article = get(api, f"/v1/articles/{cycling}")
    assert article["id"] == cycling
    assert "Milind" in article["text"]
    similar = get(api, f"/v1/articles/{cycling}/similar", size=5)
    assert similar["article_id"] == cycling
    assert 0 < len(similar["hits"]) <= 5
    assert cycling not in {hit["id"] for hit in similar["hits"]}
    assert any("Soman" in hit["title"] for hit in similar["hits"])
    for path in ("/v1/articles/nope", "/v1/articles/nope/similar"):
        response = api.client.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


# -- timeline ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("interval", "step"),
    [("day", timedelta(days=1)), ("week", timedelta(weeks=1)), ("hour", timedelta(hours=1))],
)
def test_timeline_buckets_sum_to_the_total(api: Api, interval: str, step: timedelta):
    timeline = get(api, "/v1/timeline", interval=interval, **{"from": "2026-10-01"})
    starts = [datetime.fromisoformat(b["start"]) for b in timeline["buckets"]]
    assert sum(b["count"] for b in timeline["buckets"]) == timeline["total"] > 0
    assert timeline["undated"] == 0
    assert all(later - earlier == step for earlier, later in itertools.pairwise(starts))
    if interval != "week":
        assert 0 in {b["count"] for b in timeline["buckets"]}  # empty intervals are filled in
    if interval == "week":
        assert {start.weekday() for start in starts} == {0}


def test_timeline_of_a_query(api: Api):
    timeline = get(api, "/v1/timeline", q="Soman", sources="marquee-daily")
    search = get(api, "/v1/search", q="Soman", sources="marquee-daily")
    assert sum(b["count"] for b in timeline["buckets"]) == search["total"] > 0
    assert get(api, "/v1/timeline", q="zzzqqq")["buckets"] == []


# -- sources -------------------------------------------------------------------


def test_sources_lists_configured_and_indexed_sources(api: Api):
    listed = {s["name"]: s for s in get(api, "/v1/sources")["sources"]}
    assert list(listed) == [*CONFIGURED, "reel-news"]
    assert listed["quiet-times"] == {
        "name": "quiet-times",
        "configured": True,
        "articles": 0,
        "newest_published_at": None,
        "last_crawled_at": None,
    }
    assert not listed["reel-news"]["configured"]
    counts = Counter(a.source for a in api.corpus)
    for name in ("marquee-daily", "reel-news"):
        assert listed[name]["articles"] == counts[name]
        newest = max(a.published_at for a in api.corpus if a.source == name)
        assert datetime.fromisoformat(listed[name]["newest_published_at"]) == newest
        assert datetime.fromisoformat(listed[name]["last_crawled_at"]) == datetime(
            2026, 11, 25, tzinfo=UTC
        )


# -- RSS -----------------------------------------------------------------------


def test_rss_feed_of_a_search(api: Api):
    response = api.client.get("/v1/search.rss", params={"q": "Soman"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/rss+xml")
    channel = ET.fromstring(response.content).find("channel")
    assert channel is not None
    items = channel.findall("item")
    total = get(api, "/v1/search", q="Soman")["total"]
    assert len(items) == min(total, 50) > 0
    dates = [parsedate_to_datetime(item.findtext("pubDate") or "") for item in items]
    assert dates == sorted(dates, reverse=True)
    assert all(item.findtext("link", "").startswith("https://") for item in items)
    assert "Soman" in (channel.findtext("title") or "")


def test_rss_feed_is_capped_at_50(api: Api):
    response = api.client.get("/v1/search.rss", params={"size": 51})
    assert response.status_code == 422
    everything = ET.fromstring(api.client.get("/v1/search.rss").content)
    assert len(everything.findall("channel/item")) == min(50, len(api.corpus))


# -- export --------------------------------------------------------------------


@pytest.mark.parametrize("q", [None, "Soman"])
def test_export_jsonl_holds_every_match_with_text(api: Api, q: str | None):
    params = {"q": q} if q else {}
    response = api.client.get("/v1/export", params={**params, "format": "jsonl"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in response.text.splitlines()]
    assert len(rows) == len({r["id"] for r in rows}) == get(api, "/v1/search", **params)["total"]
    assert all(row["text"] for row in rows)


def test_export_csv_row_count_is_the_total(api: Api):
    response = api.client.get(
        "/v1/export", params={"format": "csv", "exclude_sources": "reel-news"}
    )
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][:4] == ["id", "url", "source", "title"]
    assert len(rows) - 1 == len(api.corpus) - count(api, source="reel-news")
    assert all(row[2] == "marquee-daily" and row[-1] for row in rows[1:])


def test_export_of_nothing_and_bad_format(api: Api):
    response = api.client.get("/v1/export", params={"q": "zzzqqq"})
    assert response.status_code == 200
    assert response.text == ""
    assert api.client.get("/v1/export", params={"format": "xml"}).status_code == 422


# -- OpenAPI -------------------------------------------------------------------


def test_openapi_describes_every_parameter(api: Api):
    spec = get(api, "/openapi.json")
    for path in ("/v1/search", "/v1/timeline", "/v1/search.rss", "/v1/export"):
        for parameter in spec["paths"][path]["get"]["parameters"]:
            assert parameter.get("description"), (path, parameter["name"])
    names = {p["name"] for p in spec["paths"]["/v1/search"]["get"]["parameters"]}
    assert {"q", "sources", "exclude_sources", "authors", "language", "cursor", "facets"} <= names


def test_offset_pages_order_ties_by_id(api: Api):
    """Six stories share one second; offset pages cut through them like cursor pages do."""
    ids = [
        hit["id"]
        for offset in range(0, len(api.corpus), 4)
        for hit in get(api, "/v1/search", sort="date", size=4, offset=offset)["hits"]
    ]
    by_date = sorted(api.corpus, key=lambda a: (-a.published_at.timestamp(), a.id))
    assert ids == [a.id for a in by_date]


@pytest.mark.parametrize(
    ("name", "value"), [("to", "9999-12-31"), ("from", "0001-01-01T00:00:00+01:00")]
)
def test_dates_out_of_range_are_a_422(api: Api, name: str, value: str):
    response = api.client.get("/v1/search", params={name: value})
    assert response.status_code == 422
    assert name in response.json()["detail"]
