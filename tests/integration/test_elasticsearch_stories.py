"""Enrichment on Elasticsearch, end to end: the real crawler and indexer (enrichment on, its
default) write the demo outlets into a real node, whose searches are the enrichment's only
state (near-duplicate candidates by band keys, story candidates by words). Read back from
the node: the agency copies the manifest labels (`duplicate_label`) form exactly the
near-duplicate groups, each in one story holding nothing from another event, and a
collapsed search shows each agency text once, counted as its copies."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from newsagg.core.adapters.elasticsearch_store import ElasticsearchStore
from newsagg.core.article import Article
from newsagg.core.query import parse_query
from newsagg.core.search import Collapse, SearchQuery, Sort
from newsagg.core.settings import Settings
from support.pipeline import Pipeline, indexed_pipeline, pipeline_env

from newsagg.cli.demo_site import DemoSites


def slug(article: Article) -> str:
    return article.url.rsplit("/", 1)[-1].removesuffix(".html")


@pytest.fixture(scope="module")
def indexed(
    tmp_path_factory: pytest.TempPathFactory,
    demo_site: DemoSites,
    manifest: dict,
    elasticsearch_url: str,
) -> Iterator[tuple[ElasticsearchStore, dict[str, Article]]]:
    """The demo crawled and indexed into its own index; every article by slug."""
    prefix = f"test-stories-{uuid.uuid4().hex[:8]}"
    root: Path = tmp_path_factory.mktemp("es-stories")
    env = pipeline_env(
        root / "data",
        sources=demo_site.sources_yaml(),
        store_url=elasticsearch_url,
        extra={"NEWSAGG_STORE_INDEX": prefix},
    )
    store = ElasticsearchStore.from_url(elasticsearch_url, Settings(store_index=prefix))
    try:
        with indexed_pipeline(Pipeline(env, root), manifest["article_count"]):
            articles = {slug(article): article for article in store.scan(SearchQuery())}
        yield store, articles
    finally:
        store.drop()
        store.close()


def labelled_groups(manifest: dict) -> dict[str, set[str]]:
    groups: dict[str, set[str]] = {}
    for entry in manifest["articles"]:
        if entry["duplicate_label"]:
            groups.setdefault(entry["duplicate_label"], set()).add(entry["slug"])
    return groups


def test_every_article_is_enriched(indexed, manifest: dict):
    _, articles = indexed
    assert sorted(articles) == sorted(entry["slug"] for entry in manifest["articles"])
    assert all(article.enrichment > 0 and article.story_id for article in articles.values())


def test_the_near_duplicate_groups_are_the_labelled_copies(indexed, manifest: dict):
    _, articles = indexed
    found: dict[str, set[str]] = {}
    for name, article in articles.items():
        found.setdefault(article.duplicate_group or article.id, set()).add(name)
    copies = sorted(sorted(group) for group in found.values() if len(group) > 1)
    assert copies == sorted(sorted(group) for group in labelled_groups(manifest).values())
    for group in labelled_groups(manifest).values():
        members = [articles[name] for name in group]
        originals = [a for a in members if a.duplicate_of is None]
        assert len(originals) == 1
        assert all(a.duplicate_of == originals[0].id for a in members if a is not originals[0])


def test_each_agency_story_holds_only_its_own_event(indexed, manifest: dict):
    store, articles = indexed
    labels = {entry["slug"]: entry["story_label"] for entry in manifest["articles"]}
    for group in labelled_groups(manifest).values():
        story_ids = {articles[name].story_id for name in group}
        assert len(story_ids) == 1
        story = store.story(story_ids.pop())
        listed = [hit.url.rsplit("/", 1)[-1].removesuffix(".html") for hit in story]
        assert group <= set(listed)
        assert {labels[name] for name in listed} == {labels[next(iter(group))]}
        assert all(hit.story_size == len(story) for hit in story)


def test_a_collapsed_search_shows_each_agency_text_once(indexed, manifest: dict):
    store, articles = indexed
    by_slug = {entry["slug"]: entry for entry in manifest["articles"]}
    for group in labelled_groups(manifest).values():
        shared = set.intersection(*(set(by_slug[name]["people"]) for name in group))
        query = SearchQuery(
            query=parse_query(f'"{sorted(shared)[0]}"'),
            collapse=Collapse.DUPLICATES,
            sort=Sort.DATE,
            size=100,
        )
        page = store.search(query)
        ids = {articles[name].id for name in group}
        shown = [hit for hit in page.hits if hit.id in ids]
        assert len(shown) == 1
        assert shown[0].duplicates == len(group)
        assert page.groups == len(page.hits) < page.total
