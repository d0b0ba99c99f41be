"""Stories end to end: the real crawler, indexer (enrichment on, its default) and API over
the demo outlets. Each agency text the outlets both ran (the manifest's `duplicate_label`)
is one hit of a search, counted as its copies; collapse=none shows every copy; its story
lists the copies in time order and nothing from the same people's other stories."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

import pytest
from support.pipeline import Pipeline, indexed_pipeline, pipeline_env

from newsagg.cli.demo_site import MANIFEST_PATH, DemoSites

pytestmark = pytest.mark.e2e
ARTICLES = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))["articles"]
GROUPS: dict[str, list[dict]] = {}
for _entry in ARTICLES:
    if _entry["duplicate_label"]:
        GROUPS.setdefault(_entry["duplicate_label"], []).append(_entry)


@pytest.fixture(scope="module")
def pipeline(
    tmp_path_factory: pytest.TempPathFactory, demo_site: DemoSites, manifest: dict
) -> Iterator[Pipeline]:
    root = tmp_path_factory.mktemp("e2e-stories")
    running = Pipeline(pipeline_env(root / "data", sources=demo_site.sources_yaml()), root)
    with indexed_pipeline(running, manifest["article_count"]):
        yield running


def slug(url: str) -> str:
    return url.rsplit("/", 1)[-1].removesuffix(".html")


def query_for(copies: list[dict]) -> str:
    """A person every copy names (hand-checked), as a phrase: an editor's search."""
    shared = set.intersection(*(set(entry["people"]) for entry in copies))
    return f'"{sorted(shared)[0]}"'


def test_the_labelled_set_has_agency_copies_on_two_or_three_outlets():
    assert len(GROUPS) >= 5
    assert all(len({entry["source"] for entry in copies}) >= 2 for copies in GROUPS.values())
    assert any(len(copies) == 3 for copies in GROUPS.values())


@pytest.mark.parametrize("label", sorted(GROUPS))
def test_an_agency_story_is_one_hit_counting_its_copies(pipeline: Pipeline, label: str):
    copies = GROUPS[label]
    page = pipeline.api("/v1/search", q=query_for(copies), size=100)
    hits = [hit for hit in page["hits"] if slug(hit["url"]) in {c["slug"] for c in copies}]
    assert len(hits) == 1, [hit["url"] for hit in hits]
    assert hits[0]["duplicates"] == len(copies)
    assert hits[0]["story_sources"] > 1
    assert page["total"] >= len(page["hits"])  # total counts articles, not groups


@pytest.mark.parametrize("label", sorted(GROUPS))
def test_collapse_none_returns_every_copy(pipeline: Pipeline, label: str):
    copies = GROUPS[label]
    page = pipeline.api("/v1/search", q=query_for(copies), size=100, collapse="none")
    shown = {slug(hit["url"]) for hit in page["hits"]}
    assert {c["slug"] for c in copies} <= shown
    assert len(page["hits"]) == page["total"]  # one hit per article


@pytest.mark.parametrize("label", sorted(GROUPS))
def test_the_story_lists_its_articles_in_time_order(pipeline: Pipeline, label: str):
    copies = GROUPS[label]
    page = pipeline.api("/v1/search", q=query_for(copies), size=100, collapse="none")
    story_ids = {
        hit["story_id"] for hit in page["hits"] if slug(hit["url"]) in {c["slug"] for c in copies}
    }
    assert len(story_ids) == 1
    story = pipeline.api(f"/v1/stories/{story_ids.pop()}")
    listed = [slug(article["url"]) for article in story["articles"]]
    assert {c["slug"] for c in copies} <= set(listed)
    labels = {entry["slug"]: entry["story_label"] for entry in ARTICLES}
    assert {labels[s] for s in listed} == {copies[0]["story_label"]}  # no other story joined
    times = [datetime.fromisoformat(a["published_at"]) for a in story["articles"]]
    assert times == sorted(times)
    assert story["size"] == len(listed)
    assert set(story["sources"]) >= {c["source"] for c in copies}


def test_an_unknown_story_is_a_404(pipeline: Pipeline):
    status, _ = pipeline.get(f"/v1/stories/{'0' * 32}")
    assert status == 404
