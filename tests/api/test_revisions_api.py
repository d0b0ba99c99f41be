"""Issue 17 in the API, on both stores: date provenance and quality on articles and hits,
the `date_source` and `quality` filters on every search-like endpoint, and
/v1/articles/{id}/revisions.

The corpus is small and made for it: one article per date source, one without a date,
low-quality ones, and articles revised by the domain's own `revise` (a headline change,
a text-only change), as the indexer stores them.
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
from newsagg.api.routes.articles import MAX_DIFF_CHARS, last_change
from newsagg.core.adapters.tantivy_schema import ANALYZER, news_analyzer
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.article import Article, DateSource, Quality, revise
from newsagg.core.settings import Settings
from support.stores import STORE_ADAPTERS, store_pair

PUBLISHED = datetime(2026, 10, 2, 9, 30, tzinfo=UTC)
FIRST_CRAWL = datetime(2026, 10, 2, 10, tzinfo=UTC)
PARAGRAPHS = [
    "The festival opened on Friday with a screening of the restored classic.",
    "Organisers said ticket sales were the highest in the festival's history.",
    "The jury will announce its awards on the closing night.",
]


def story(slug: str, title: str, paragraphs: list[str], hours: float = 0, **fields: Any) -> Article:
    fields.setdefault("published_at", PUBLISHED)
    if fields["published_at"] is not None:
        fields.setdefault("date_source", DateSource.META)
        fields.setdefault("date_confidence", 0.9)
    return Article.create(
        url=f"https://festival.example/{slug}",
        source="festival-news",
        title=title,
        text="\n".join(paragraphs),
        crawled_at=FIRST_CRAWL + timedelta(hours=hours),
        **fields,
    )


def revised(first: Article, *later: Article) -> Article:
    """What the indexer stores after seeing these versions of one page, in order."""
    held = first
    for version in later:
        held = revise(held, version)
    return held


def corpus() -> dict[str, Article]:
    dated = {
        source: story(
            f"dated-{source.value}",
            f"Dated by {source.value}",
            PARAGRAPHS,
            date_source=source,
            date_confidence=0.5,
        )
        for source in DateSource
    }
    headline = revised(
        story("headline", "Festival opens", PARAGRAPHS),
        story(
            "headline",
            "Festival opens to record crowds",
            [*PARAGRAPHS[:2], "The jury will announce its awards on Sunday night."],
            hours=3,
        ),
    )
    text_only = revised(
        story("text-only", "Jury named", PARAGRAPHS),
        story("text-only", "Jury named", [*PARAGRAPHS, "A fourth juror joined."], hours=1),
        story("text-only", "Jury named", [*PARAGRAPHS, "A fifth juror joined."], hours=2),
    )
    undated = story("undated", "Festival diary", PARAGRAPHS, published_at=None, listed_at=None)
    paywalled = story(
        "paywalled",
        "Subscribers only",
        PARAGRAPHS[:1],
        quality=Quality.LOW,
        quality_score=0.2,
        quality_reasons=["paywall", "short"],
        date_source=DateSource.FEED,
        listed_at=PUBLISHED,
        date_notes=["the page's date 2026-10-04 is 2 days after the feed's"],
    )
    named = {f"dated-{s.value}": a for s, a in dated.items()}
    return named | {
        "headline": headline,
        "text-only": text_only,
        "undated": undated,
        "paywalled": paywalled,
    }


@dataclass
class Api:
    client: TestClient
    articles: dict[str, Article]

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def search_ids(self, **params: Any) -> set[str]:
        page = self.get("/v1/search", size=100, **params)
        assert page["total"] == len(page["hits"])
        return {hit["id"] for hit in page["hits"]}

    def ids(self, *names: str) -> set[str]:
        return {self.articles[name].id for name in names}


@pytest.fixture(name="api", scope="module", params=STORE_ADAPTERS)
def api_fixture(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    root = tmp_path_factory.mktemp(f"revisions-api-{request.param}")
    articles = corpus()
    stores = store_pair(request.param, root, request, "test-revisions-api")
    try:
        assert stores.writer.upsert(list(articles.values())).written == len(articles)
        with TestClient(create_app(Settings(data_dir=root), store=stores.open_reader())) as client:
            yield Api(client, articles)
    finally:
        stores.close()


# -- the article -------------------------------------------------------------------


def test_an_article_carries_its_date_provenance_and_quality(api: Api):
    paywalled = api.articles["paywalled"]
    body = api.get(f"/v1/articles/{paywalled.id}")
    assert body["date_source"] == "feed"
    assert body["date_confidence"] == 0.9
    assert datetime.fromisoformat(body["listed_at"]) == PUBLISHED
    assert body["date_notes"] == paywalled.date_notes
    assert (body["quality"], body["quality_score"]) == ("low", 0.2)
    assert body["quality_reasons"] == ["paywall", "short"]
    assert body["revision"] == 1
    undated = api.get(f"/v1/articles/{api.articles['undated'].id}")
    assert (undated["published_at"], undated["date_source"], undated["date_confidence"]) == (
        None,
        None,
        None,
    )
    assert undated["quality"] == "ok"


def test_a_revised_article_says_which_revision_and_since_when(api: Api):
    body = api.get(f"/v1/articles/{api.articles['headline'].id}")
    assert body["revision"] == 2
    assert body["title"] == "Festival opens to record crowds"
    assert datetime.fromisoformat(body["updated_at"]) == FIRST_CRAWL + timedelta(hours=3)


# -- hits and filters --------------------------------------------------------------


def test_hits_carry_provenance_quality_and_the_last_change(api: Api):
    hits = {hit["id"]: hit for hit in api.get("/v1/search", size=100)["hits"]}
    headline = hits[api.articles["headline"].id]
    assert (headline["revision"], headline["previous_title"]) == (2, "Festival opens")
    assert datetime.fromisoformat(headline["updated_at"]) == FIRST_CRAWL + timedelta(hours=3)
    text_only = hits[api.articles["text-only"].id]
    assert (text_only["revision"], text_only["previous_title"]) == (3, None)
    paywalled = hits[api.articles["paywalled"].id]
    assert (paywalled["date_source"], paywalled["quality"]) == ("feed", "low")
    undated = hits[api.articles["undated"].id]
    assert (undated["date_source"], undated["date_confidence"], undated["revision"]) == (
        None,
        None,
        1,
    )
    assert hits[api.articles["dated-json-ld"].id]["date_confidence"] == 0.5


def test_date_source_filter_one_value_each(api: Api):
    for source in DateSource:
        expected = {a.id for a in api.articles.values() if a.date_source == source}
        assert api.search_ids(date_source=source.value) == expected
        assert expected
    assert api.search_ids(date_source="none") == api.ids("undated")


def test_date_source_filter_takes_a_comma_list_or_repeats(api: Api):
    expected = api.ids("dated-url", "dated-htmldate", "undated")
    assert api.search_ids(date_source="url,htmldate, none") == expected
    assert api.search_ids(date_source=["url", "htmldate", "none"]) == expected
    assert api.search_ids(date_source=["url,htmldate", "none"]) == expected


def test_quality_filter(api: Api):
    assert api.search_ids(quality="low") == api.ids("paywalled")
    assert api.search_ids(quality="ok") == set(a.id for a in api.articles.values()) - api.ids(
        "paywalled"
    )
    assert api.search_ids(quality="low", date_source="meta") == set()


@pytest.mark.parametrize(
    ("params", "parameter", "needle"),
    [
        ({"date_source": "crawl"}, "date_source", "json-ld, meta, url, htmldate, feed"),
        ({"date_source": "feed,rss"}, "date_source", "unknown date source 'rss'"),
        ({"quality": "great"}, "quality", "'ok' or 'low'"),
    ],
)
def test_unknown_filter_values_are_a_clear_422(
    api: Api, params: dict[str, str], parameter: str, needle: str
):
    for path in ("/v1/search", "/v1/timeline", "/v1/search.rss", "/v1/export"):
        response = api.client.get(path, params=params)
        assert response.status_code == 422, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert [e["parameter"] for e in problem["errors"]] == [parameter]
        assert needle in problem["detail"]


def test_the_feed_export_and_timeline_take_the_same_filters(api: Api):
    rss = api.client.get("/v1/search.rss", params={"quality": "low"})
    assert rss.status_code == 200
    guids = [g.text for g in ET.fromstring(rss.content).iter("guid")]
    assert guids == [api.articles["paywalled"].id]
    lines = api.client.get("/v1/export", params={"date_source": "none"}).text.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [api.articles["undated"].id]
    rows = list(
        csv.DictReader(
            io.StringIO(
                api.client.get(
                    "/v1/export", params={"format": "csv", "date_source": "feed,sitemap"}
                ).text
            )
        )
    )
    assert {row["id"] for row in rows} == api.ids("paywalled", "dated-feed", "dated-sitemap")
    timeline = api.get("/v1/timeline", date_source="none")
    assert (timeline["total"], timeline["undated"], timeline["buckets"]) == (1, 1, [])
    dated = api.get("/v1/timeline", date_source="json-ld")
    assert dated["total"] == sum(b["count"] for b in dated["buckets"]) == 1


# -- revisions ---------------------------------------------------------------------


def test_revisions_of_a_headline_change(api: Api):
    article = api.articles["headline"]
    body = api.get(f"/v1/articles/{article.id}/revisions")
    assert (body["id"], body["revision"]) == (article.id, 2)
    assert datetime.fromisoformat(body["updated_at"]) == FIRST_CRAWL + timedelta(hours=3)
    assert [(r["revision"], r["title"]) for r in body["revisions"]] == [
        (1, "Festival opens"),
        (2, "Festival opens to record crowds"),
    ]
    assert body["revisions"][-1]["content_hash"] == article.content_hash
    change = body["last_change"]
    assert (change["from_revision"], change["to_revision"]) == (1, 2)
    assert change["title_changed"] is True
    assert change["previous_title"] == "Festival opens"
    assert change["title"] == "Festival opens to record crowds"
    assert change["diff_truncated"] is False
    diff = change["diff"].splitlines()
    assert diff[:2] == ["--- revision 1", "+++ revision 2"]
    assert f"-{PARAGRAPHS[2]}" in diff
    assert "+The jury will announce its awards on Sunday night." in diff
    assert f" {PARAGRAPHS[1]}" in diff  # one paragraph of context
    assert f" {PARAGRAPHS[0]}" not in diff


def test_revisions_of_text_only_changes_list_every_version(api: Api):
    body = api.get(f"/v1/articles/{api.articles['text-only'].id}/revisions")
    assert [r["revision"] for r in body["revisions"]] == [1, 2, 3]
    assert [r["word_count"] for r in body["revisions"]] == [
        len(" ".join(PARAGRAPHS).split()) + extra for extra in (0, 4, 4)
    ]
    change = body["last_change"]
    assert (change["from_revision"], change["title_changed"], change["previous_title"]) == (
        2,
        False,
        None,
    )
    assert "-A fourth juror joined." in change["diff"].splitlines()
    assert "+A fifth juror joined." in change["diff"].splitlines()


def test_an_article_never_changed_has_one_revision_and_no_last_change(api: Api):
    article = api.articles["undated"]
    body = api.get(f"/v1/articles/{article.id}/revisions")
    assert body["revision"] == 1
    assert body["updated_at"] is None
    assert body["last_change"] is None
    assert [(r["revision"], r["content_hash"]) for r in body["revisions"]] == [
        (1, article.content_hash)
    ]


def test_revisions_of_an_unknown_id_are_a_404_problem(api: Api):
    response = api.client.get(f"/v1/articles/{'0' * 32}/revisions")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Not found"


def test_the_diff_of_a_rewritten_long_read_is_bounded():
    """The diff is cut at MAX_DIFF_CHARS at a line's end, and says so."""
    before = [
        f"Paragraph {n} as first published, with enough words to be long." for n in range(3000)
    ]
    after = [f"Paragraph {n} as rewritten, with enough words to be long too." for n in range(3000)]
    article = revised(story("long", "Long read", before), story("long", "Long read", after, 1))
    change = last_change(article)
    assert change is not None
    assert change.diff_truncated is True
    assert MAX_DIFF_CHARS - 200 < len(change.diff) <= MAX_DIFF_CHARS
    assert change.diff.endswith(".\n")
    short = last_change(revised(story("s", "S", PARAGRAPHS), story("s", "S", PARAGRAPHS[:2], 1)))
    assert short is not None
    assert short.diff_truncated is False


# -- an index made before these fields ----------------------------------------------


def test_a_filter_an_old_index_cannot_answer_is_a_503_naming_the_rebuild(tmp_path: Path):
    """An index of issue 16's layout (no date_source or quality field, as
    tests/unit/test_tantivy_upgrade.py builds one) still searches; the new filters say
    which command rebuilds it, with no Retry-After: waiting will not help."""
    builder = tantivy.SchemaBuilder()
    for name in ("id", "source", "authors", "language"):
        builder.add_text_field(name, stored=name == "id", tokenizer_name="raw", fast=True)
    for name in ("title", "text", "author_text"):
        builder.add_text_field(name, stored=name == "text", tokenizer_name=ANALYZER)
    builder.add_date_field("published_at", indexed=True, fast=True)
    builder.add_date_field("sort_date", fast=True)
    builder.add_date_field("crawled_at", stored=True, fast=True)
    builder.add_bytes_field("doc", stored=True, indexed=False)
    (tmp_path / "index").mkdir()
    old = tantivy.Index(builder.build(), path=str(tmp_path / "index"))
    old.register_tokenizer(ANALYZER, news_analyzer())
    old.writer(heap_size=15_000_000, num_threads=1).commit()
    store = TantivyStore(tmp_path / "index", writable=True)
    store.upsert([corpus()["undated"]])
    with TestClient(create_app(Settings(data_dir=tmp_path), store=store)) as client:
        assert client.get("/v1/search").json()["total"] == 1
        for params in ({"date_source": "none"}, {"quality": "ok"}):
            response = client.get("/v1/search", params=params)
            assert response.status_code == 503
            assert "retry-after" not in response.headers
            problem = response.json()
            assert problem["title"] == "Index outdated"
            assert "newsagg repair --index" in problem["remedy"]
    store.close()
