"""Issue 18 in the API, on both stores: near-duplicates collapsed by default, the `person`
filter and facet, the story fields of hits, /v1/stories and /v1/stories/{id}.

The articles are built already enriched, as the indexer's enrichment stage leaves them
(duplicate_group, duplicate_of, story_id and people set here by hand): an agency text
republished by three outlets plus a fourth outlet's own report of the same event (one
story), a second story on the same person, an unrelated article, and one never enriched.
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import tantivy
from fastapi.testclient import TestClient
from newsagg.api.app import create_app
from newsagg.core.adapters.tantivy_schema import ANALYZER, news_analyzer
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.article import Article, DateSource
from newsagg.core.settings import Settings
from support.stores import STORE_ADAPTERS, store_pair

DAY = datetime(2026, 10, 2, tzinfo=UTC)
SOMAN = "Milind Soman"
KONWAR = "Ankita Konwar"
AGENCY = [
    "Actor and fitness campaigner Milind Soman set off from Mumbai on Friday on a cycling "
    "ride to Delhi to raise money for rural schools.",
    "Soman, 60, plans to cover the 1,400 kilometres in twelve days, riding through Gujarat "
    "and Rajasthan.",
    "The ride is supported by a charity that builds libraries in village schools.",
]


def article(
    slug: str, source: str, title: str, paragraphs: list[str], published: datetime, **fields: Any
) -> Article:
    return Article.create(
        url=f"https://{source}.example/{slug}",
        source=source,
        title=title,
        text="\n".join(paragraphs),
        crawled_at=published + timedelta(minutes=20),
        published_at=published,
        date_source=DateSource.META,
        date_confidence=0.9,
        **fields,
    )


def enriched(item: Article, group: Article, story: Article, *people: str) -> Article:
    """As the enrichment stage leaves it: in `group`'s near-duplicate group (a copy of it
    unless it is `group` itself) and in the story `story` started."""
    return item.model_copy(
        update={
            "enrichment": 1,
            "duplicate_group": group.id,
            "duplicate_of": None if item.id == group.id else group.id,
            "story_id": story.id,
            "people": list(people),
        }
    )


def corpus() -> dict[str, Article]:
    wire = article(
        "soman-ride",
        "wire-india",
        "Milind Soman starts Mumbai-Delhi ride",
        AGENCY,
        DAY + timedelta(hours=9),
    )
    copy_b = article(
        "cycling-soman",
        "city-post",
        "Soman pedals for schools",
        ["Our reporter adds: the start drew a crowd.", *AGENCY[:2]],
        DAY + timedelta(hours=10),
    )
    copy_c = article(
        "soman-cycle",
        "reel-news",
        "Fitness icon's 1,400 km ride",
        [*AGENCY, "Follow our live coverage."],
        DAY + timedelta(hours=11, minutes=30),
    )
    own = article(
        "ride-report",
        "film-beat",
        "Crowds cheer Soman at the start of his cycling ride",
        [
            "Hundreds gathered at the Gateway of India as Milind Soman rode off towards "
            "Delhi, in a charity cycling challenge for school libraries."
        ],
        DAY + timedelta(hours=12),
    )
    studio = article(
        "studio",
        "wire-india",
        "Milind Soman and Ankita Konwar open a studio",
        ["The couple opened a fitness studio in Pune; Soman will teach there."],
        DAY + timedelta(days=1, hours=9),
    )
    box_office = article(
        "box-office",
        "film-beat",
        "Festival releases lead the box office",
        ["Three festival releases took the top places this weekend."],
        DAY - timedelta(days=1),
    )
    raw = article(
        "diary",
        "city-post",
        "Festival diary",
        ["Notes from the festival."],
        DAY - timedelta(days=2),
    )
    return {
        "wire": enriched(wire, wire, wire, SOMAN),
        "copy_b": enriched(copy_b, wire, wire, SOMAN),
        "copy_c": enriched(copy_c, wire, wire, SOMAN),
        "own": enriched(own, own, wire, SOMAN),
        "studio": enriched(studio, studio, studio, SOMAN, KONWAR),
        "box_office": enriched(box_office, box_office, box_office),
        "raw": raw,  # never enriched: its own group and no story
    }


STORY_A = ("wire", "copy_b", "copy_c", "own")
"""The ride story in time order, the wire's original first."""


@dataclass
class Api:
    client: TestClient
    articles: dict[str, Article]

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def id(self, name: str) -> str:
        return self.articles[name].id

    def ids(self, *names: str) -> set[str]:
        return {self.id(name) for name in names}

    def hits(self, **params: Any) -> dict[str, dict[str, Any]]:
        """The whole result as one page, by article id."""
        page = self.get("/v1/search", size=100, **params)
        assert len(page["hits"]) == (
            page["groups"] if page["groups"] is not None else page["total"]
        )
        return {hit["id"]: hit for hit in page["hits"]}

    def problem(self, path: str, status: int, **params: Any) -> dict[str, Any]:
        response = self.client.get(path, params=params)
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        return response.json()


@pytest.fixture(name="api", scope="module", params=STORE_ADAPTERS)
def api_fixture(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    root = tmp_path_factory.mktemp(f"stories-api-{request.param}")
    articles = corpus()
    stores = store_pair(request.param, root, request, "test-stories-api")
    try:
        assert stores.writer.upsert(list(articles.values())).written == len(articles)
        with TestClient(create_app(Settings(data_dir=root), store=stores.open_reader())) as client:
            yield Api(client, articles)
    finally:
        stores.close()


# -- collapsing ----------------------------------------------------------------------


def test_search_shows_one_hit_per_near_duplicate_group_by_default(api: Api):
    page = api.get("/v1/search", size=100, sort="date")
    assert (page["collapse"], page["total"], page["groups"]) == ("duplicates", 7, 5)
    ids = [hit["id"] for hit in page["hits"]]
    # the group's best hit under the sort: by date, its newest copy
    assert ids == [api.id(n) for n in ("studio", "own", "copy_c", "box_office", "raw")]
    wire = page["hits"][2]
    assert (wire["duplicates"], wire["story_size"], wire["story_sources"]) == (3, 4, 4)
    assert wire["story_id"] == api.id("wire")
    assert wire["duplicate_group"] == api.id("wire")
    assert wire["people"] == [SOMAN]


def test_collapse_none_shows_every_copy_and_names_its_original(api: Api):
    page = api.get("/v1/search", size=100, collapse="none")
    assert (page["collapse"], page["total"], page["groups"]) == ("none", 7, None)
    hits = {hit["id"]: hit for hit in page["hits"]}
    assert set(hits) == set(api.ids(*api.articles))
    for name in ("copy_b", "copy_c"):
        assert hits[api.id(name)]["duplicate_of"] == api.id("wire")
        assert hits[api.id(name)]["duplicates"] == 3
    assert hits[api.id("wire")]["duplicate_of"] is None
    own = hits[api.id("own")]
    assert (own["duplicate_of"], own["duplicates"], own["story_size"]) == (None, 1, 4)
    raw = hits[api.id("raw")]
    assert (raw["story_id"], raw["duplicate_group"], raw["people"]) == (None, None, [])
    assert (raw["duplicates"], raw["story_size"], raw["story_sources"]) == (1, 1, 1)


def test_collapse_stories_shows_one_hit_per_story(api: Api):
    page = api.get("/v1/search", size=100, collapse="stories", sort="date")
    assert (page["total"], page["groups"]) == (7, 4)
    assert [hit["id"] for hit in page["hits"]] == [
        api.id(n) for n in ("studio", "own", "box_office", "raw")
    ]


@pytest.mark.parametrize("collapse", ["duplicates", "stories", "none"])
@pytest.mark.parametrize("sort", ["date", "relevance"])
def test_a_collapsed_result_pages_by_cursor_without_skipping_or_repeating(
    api: Api, collapse: str, sort: str
):
    whole = api.get("/v1/search", q="Soman OR festival", size=100, collapse=collapse, sort=sort)
    paged: list[str] = []
    cursor = None
    for _ in range(10):
        params = {"q": "Soman OR festival", "size": 2, "collapse": collapse, "sort": sort}
        page = api.get("/v1/search", **params, **({"cursor": cursor} if cursor else {}))
        paged += [hit["id"] for hit in page["hits"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == [hit["id"] for hit in whole["hits"]]
    assert len(paged) == len(set(paged)) == (whole["groups"] or whole["total"])


def test_a_cursor_is_bound_to_its_collapse(api: Api):
    first = api.get("/v1/search", size=2, sort="date")
    assert first["next_cursor"]
    problem = api.problem(
        "/v1/search", 400, size=2, sort="date", collapse="none", cursor=first["next_cursor"]
    )
    assert problem["title"] == "Invalid cursor"


def test_an_unknown_collapse_is_a_422_naming_the_choices(api: Api):
    problem = api.problem("/v1/search", 422, collapse="copies")
    assert [e["parameter"] for e in problem["errors"]] == ["collapse"]
    assert "'duplicates'" in problem["detail"]


# -- people ----------------------------------------------------------------------------


def test_the_person_filter_takes_any_of_its_values(api: Api):
    soman = api.ids(*STORY_A, "studio")
    assert set(api.hits(person=SOMAN, collapse="none")) == soman
    assert set(api.hits(person=[KONWAR, "Nobody Known"], collapse="none")) == api.ids("studio")
    assert set(api.hits(person=[KONWAR, SOMAN], collapse="none")) == soman
    assert set(api.hits(person=SOMAN, sort="date")) == api.ids("studio", "own", "copy_c")
    assert api.hits(person="Milind") == {}


def test_the_person_facet_counts_articles(api: Api):
    for collapse in ("none", "duplicates"):
        page = api.get("/v1/search", facets="person,source", collapse=collapse)
        assert page["facets"]["person"] == [
            {"value": SOMAN, "count": 5},
            {"value": KONWAR, "count": 1},
        ]
    narrowed = api.get("/v1/search", q="studio", facets="person")["facets"]["person"]
    assert sorted((f["value"], f["count"]) for f in narrowed) == [(KONWAR, 1), (SOMAN, 1)]


def test_an_unknown_facet_lists_person_among_the_known(api: Api):
    problem = api.problem("/v1/search", 422, facets="people")
    assert "person" in problem["detail"]


def test_the_timeline_feed_and_export_take_the_person_filter(api: Api):
    soman = api.ids(*STORY_A, "studio")
    timeline = api.get("/v1/timeline", person=SOMAN)
    assert timeline["total"] == sum(b["count"] for b in timeline["buckets"]) == len(soman)
    rss = api.client.get("/v1/search.rss", params={"person": KONWAR})
    assert rss.status_code == 200
    assert [g.text for g in ET.fromstring(rss.content).iter("guid")] == [api.id("studio")]
    lines = api.client.get("/v1/export", params={"person": SOMAN}).text.splitlines()
    assert {json.loads(line)["id"] for line in lines} == soman
    rows = csv.DictReader(
        io.StringIO(api.client.get("/v1/export", params={"format": "csv", "person": KONWAR}).text)
    )
    assert [row["id"] for row in rows] == [api.id("studio")]


# -- /v1/stories -----------------------------------------------------------------------


def story_a(api: Api) -> dict[str, Any]:
    wire = api.articles["wire"]
    return {
        "id": wire.id,
        "title": wire.title,
        "size": 4,
        "sources": ["wire-india", "city-post", "reel-news", "film-beat"],
        "first_publisher": "wire-india",
        "first_url": wire.url,
        "first_seen": wire.published_at,
        "last_seen": api.articles["own"].published_at,
    }


def summary(story: dict[str, Any]) -> dict[str, Any]:
    """The fields story_a() names, dates parsed."""
    picked = {name: story[name] for name in ("id", "title", "size", "sources")}
    picked |= {name: story[name] for name in ("first_publisher", "first_url")}
    picked |= {name: datetime.fromisoformat(story[name]) for name in ("first_seen", "last_seen")}
    return picked


def test_stories_of_a_query_newest_first_with_who_was_first(api: Api):
    body = api.get("/v1/stories", q="Soman", sort="date")
    assert (body["query"], body["total"]) == ("Soman", 2)
    studio, ride = body["stories"]
    assert studio["id"] == api.id("studio")
    assert (studio["size"], studio["sources"], studio["first_publisher"]) == (
        1,
        ["wire-india"],
        "wire-india",
    )
    assert set(studio["people"]) == {SOMAN, KONWAR}
    assert summary(ride) == story_a(api)
    assert ride["people"] == [SOMAN]


def test_stories_by_relevance_and_size(api: Api):
    body = api.get("/v1/stories", q="Soman", size=1)
    assert body["total"] == 2
    assert len(body["stories"]) == 1
    assert body["stories"][0]["id"] in api.ids("wire", "studio")
    every = api.get("/v1/stories", sort="date", size=50)
    assert every["total"] == api.get("/v1/search", collapse="stories")["groups"] == 4
    # the never-enriched article is a story of one under its own id
    assert [s["id"] for s in every["stories"]] == [
        api.id(n) for n in ("studio", "wire", "box_office", "raw")
    ]


def test_stories_take_the_search_filters(api: Api):
    """A story matches through any of its articles; its figures are the whole story's."""
    body = api.get("/v1/stories", sources="film-beat", q="cycling")
    assert body["total"] == 1
    assert summary(body["stories"][0]) == story_a(api)
    assert api.get("/v1/stories", person=KONWAR)["total"] == 1
    assert api.get("/v1/stories", q="nothing-matches-this")["stories"] == []


def test_one_story_lists_its_articles_in_time_order(api: Api):
    body = api.get(f"/v1/stories/{api.id('wire')}")
    assert summary(body) == story_a(api)
    articles = body["articles"]
    assert [a["id"] for a in articles] == [api.id(n) for n in STORY_A]
    assert [a["source"] for a in articles] == story_a(api)["sources"]
    assert [a["duplicate_of"] for a in articles] == [None, api.id("wire"), api.id("wire"), None]
    assert all(a["story_id"] == api.id("wire") for a in articles)
    assert articles[0]["url"] == body["first_url"]


def test_an_unknown_story_is_a_404_and_a_malformed_id_a_422(api: Api):
    assert api.problem(f"/v1/stories/{'0' * 32}", 404)["title"] == "Not found"
    # a copy's id is an article's, not a story's
    assert api.problem(f"/v1/stories/{api.id('copy_b')}", 404)["title"] == "Not found"
    for bad in ("xyz", "0" * 31, "G" * 32, "0" * 33):
        problem = api.problem(f"/v1/stories/{bad}", 422)
        assert [e["parameter"] for e in problem["errors"]] == ["story_id"]


def test_an_article_never_enriched_is_a_story_of_one(api: Api):
    raw = api.articles["raw"]
    body = api.get(f"/v1/stories/{raw.id}")
    assert (body["id"], body["title"], body["size"], body["sources"]) == (
        raw.id,
        raw.title,
        1,
        ["city-post"],
    )
    assert [a["id"] for a in body["articles"]] == [raw.id]


def test_an_article_names_its_story_original_and_people(api: Api):
    body = api.get(f"/v1/articles/{api.id('copy_c')}")
    assert (body["story_id"], body["duplicate_of"], body["people"]) == (
        api.id("wire"),
        api.id("wire"),
        [SOMAN],
    )
    raw = api.get(f"/v1/articles/{api.id('raw')}")
    assert (raw["story_id"], raw["duplicate_of"], raw["people"]) == (None, None, [])


# -- an index made before these fields -------------------------------------------------


def issue_17_index(directory: Path) -> None:
    """An empty embedded index in issue 17's layout: no people, story or group field."""
    builder = tantivy.SchemaBuilder()
    for name in ("id", "source", "authors", "language", "date_source", "quality"):
        builder.add_text_field(name, stored=name == "id", tokenizer_name="raw", fast=True)
    for name in ("title", "text", "author_text"):
        builder.add_text_field(name, stored=name == "text", tokenizer_name=ANALYZER)
    builder.add_date_field("published_at", indexed=True, fast=True)
    builder.add_date_field("sort_date", fast=True)
    builder.add_date_field("crawled_at", stored=True, fast=True)
    builder.add_bytes_field("doc", stored=True, indexed=False)
    directory.mkdir()
    old = tantivy.Index(builder.build(), path=str(directory))
    old.register_tokenizer(ANALYZER, news_analyzer())
    old.writer(heap_size=15_000_000, num_threads=1).commit()


def test_an_index_made_before_near_duplicates_still_searches(tmp_path: Path):
    """Until `newsagg repair --index`, the default search answers (every article is its own
    group there); what needs the new fields is a 503 naming the rebuild."""
    issue_17_index(tmp_path / "index")
    store = TantivyStore(tmp_path / "index", writable=True)
    store.upsert([a for name, a in corpus().items() if name != "raw"])
    with TestClient(create_app(Settings(data_dir=tmp_path), store=store)) as client:
        api = Api(client, corpus())
        first = api.get("/v1/search", size=4, sort="date")
        assert (first["collapse"], first["total"]) == ("duplicates", 6)
        second = api.get("/v1/search", size=4, sort="date", cursor=first["next_cursor"])
        assert second["next_cursor"] is None
        ids = [hit["id"] for hit in first["hits"] + second["hits"]]
        assert len(set(ids)) == 6
        assert {hit["duplicates"] for hit in first["hits"] + second["hits"]} == {1}
        assert len(api.get("/v1/search", size=10, collapse="stories")["hits"]) == 6
        for path, params in (
            ("/v1/search", {"person": SOMAN}),
            ("/v1/stories", {}),
            (f"/v1/stories/{api.id('wire')}", {}),
        ):
            problem = api.problem(path, 503, **params)
            assert problem["title"] == "Index outdated", path
            assert "newsagg repair --index" in problem["remedy"]
    store.close()
