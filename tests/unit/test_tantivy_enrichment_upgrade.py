"""An embedded index made before article schema 3 (every index of issue 17): it is read and
written in its own layout; what needs the enrichment fields (people and story filters,
collapsing, LSH candidates, stories) fails with the command that rebuilds it, the rest
keeps working; `newsagg check` calls it outdated and `newsagg repair --index` mends it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import tantivy
from newsagg.core.adapters.sqlite_bus import SqliteLogBus
from newsagg.core.adapters.tantivy_schema import ANALYZER, Layout, news_analyzer
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.article import Article, DateSource
from newsagg.core.ports import ARTICLES_TOPIC, IndexOutdated
from newsagg.core.query import parse_query
from newsagg.core.search import Collapse, SearchQuery

from newsagg.cli.main import main

CRAWLED = datetime(2026, 9, 6, 10, tzinfo=UTC)
ENRICHMENT_FIELDS = {"people", "story_id", "duplicate_group", "lsh_bands"}


def _issue_17_schema() -> tantivy.Schema:
    """The layout of issue 17: date_source and quality, no enrichment field."""
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw", fast=True)
    builder.add_text_field("title", tokenizer_name=ANALYZER)
    builder.add_text_field("text", stored=True, tokenizer_name=ANALYZER)
    builder.add_text_field("author_text", tokenizer_name=ANALYZER)
    builder.add_text_field("source", tokenizer_name="raw", fast=True)
    builder.add_text_field("authors", tokenizer_name="raw", fast=True)
    builder.add_text_field("language", tokenizer_name="raw", fast=True)
    builder.add_date_field("published_at", indexed=True, fast=True)
    builder.add_date_field("sort_date", fast=True)
    builder.add_date_field("crawled_at", stored=True, fast=True)
    builder.add_bytes_field("doc", stored=True, indexed=False)
    builder.add_text_field("date_source", tokenizer_name="raw", fast=True)
    builder.add_text_field("quality", tokenizer_name="raw", fast=True)
    return builder.build()


def _copy(n: int, original: Article | None = None) -> Article:
    article = Article.create(
        url=f"https://enrich-upgrade.example/{n}",
        source=f"outlet-{n}",
        title=f"Harbour story {n}",
        text="The harbour festival opened with boats and music.",
        published_at=CRAWLED,
        date_source=DateSource.META,
        crawled_at=CRAWLED,
    )
    group = original.id if original is not None else article.id
    return article.model_copy(
        update={
            "enrichment": 1,
            "lsh_bands": ["0-harbour"],
            "minhash": "aGFyYm91cg==",
            "duplicate_group": group,
            "duplicate_of": original.id if original is not None else None,
            "story_id": group,
            "people": ["Ria Sen"],
        }
    )


ORIGINAL = _copy(1)
ARTICLES = [ORIGINAL, _copy(2, ORIGINAL), _copy(3, ORIGINAL)]


def _fields(path: Path) -> set[str]:
    return {field["name"] for field in json.loads((path / "meta.json").read_bytes())["schema"]}


@pytest.fixture
def old_index(tmp_path: Path) -> Path:
    path = tmp_path / "index"
    path.mkdir()
    old = tantivy.Index(_issue_17_schema(), path=str(path))
    old.register_tokenizer(ANALYZER, news_analyzer())
    old.writer(heap_size=15_000_000, num_threads=1).commit()
    return path


@pytest.fixture
def written(old_index: Path) -> Iterator[tuple[TantivyStore, TantivyStore]]:
    writer = TantivyStore(old_index, writable=True)
    writer.ensure_schema()
    assert writer.upsert(ARTICLES).written == 3
    reader = TantivyStore(old_index, writable=False)
    yield writer, reader
    writer.close()
    reader.close()


def test_an_issue_17_index_is_read_and_written_in_its_layout(old_index: Path, written):
    _, reader = written
    assert Layout.of(old_index).missing == ENRICHMENT_FIELDS
    assert reader.get_many([a.id for a in ARTICLES]) == {a.id: a for a in ARTICLES}
    page = reader.search(SearchQuery(query=parse_query("harbour")))  # every facet asked
    assert page.total == 3
    assert "person" not in page.facets
    assert page.facets["source"]
    assert {(h.duplicates, h.story_size, h.story_sources) for h in page.hits} == {(1, 1, 1)}
    assert {h.duplicate_of for h in page.hits} == {None, ORIGINAL.id}
    assert reader.near_duplicates([]) == []
    assert not ENRICHMENT_FIELDS & _fields(old_index)  # no silent rewrite


@pytest.mark.parametrize("collapse", [Collapse.DUPLICATES, Collapse.STORIES])
def test_collapsing_an_issue_17_index_keeps_every_article(written, collapse):
    """Its articles cannot be enriched (the lookups need the new fields), so each is its
    own group, and the API's default collapse must not fail there."""
    _, reader = written
    page = reader.search(SearchQuery(collapse=collapse, size=2))
    assert (page.total, page.groups, len(page.hits)) == (3, 3, 2)
    rest = reader.search(SearchQuery(collapse=collapse, size=2, offset=2))
    assert {h.id for h in page.hits + rest.hits} == {a.id for a in ARTICLES}


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.search(SearchQuery(people=("Ria Sen",))),
        lambda s: s.search(SearchQuery(story_ids=(ORIGINAL.id,))),
        lambda s: s.near_duplicates(["0-harbour"]),
        lambda s: s.story(ORIGINAL.id),
        lambda s: s.stories(SearchQuery()),
    ],
    ids=["people", "story_ids", "lsh", "story", "stories"],
)
def test_what_needs_the_new_fields_names_the_rebuild(written, call):
    _, reader = written
    with pytest.raises(IndexOutdated, match=r"`newsagg repair --index`") as raised:
        call(reader)
    assert raised.value.problem.startswith("this index was made before the")


def test_check_says_outdated_and_repair_makes_collapse_and_stories_work(
    old_index: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    data = old_index.parent
    for name in ("NEWSAGG_BUS_URL", "NEWSAGG_STORE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NEWSAGG_DATA_DIR", str(data))
    monkeypatch.setenv("NEWSAGG_INDEXER_METRICS_PORT", "0")
    monkeypatch.setenv("NEWSAGG_ENRICH", "false")  # the bus's own enrichment, read back as is
    bus = SqliteLogBus(data / "bus.sqlite")
    for article in ARTICLES:
        bus.publish(ARTICLES_TOPIC, article.id, article.to_json())
    bus.close()
    writer = TantivyStore(old_index, writable=True)
    writer.upsert(ARTICLES)
    writer.close()

    assert main(["check"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("index:"))
    assert line.startswith("index: outdated: 3 articles (")
    assert "people" in line
    assert main(["repair", "--index"]) == 0
    assert _fields(old_index) >= ENRICHMENT_FIELDS
    capsys.readouterr()
    assert main(["check"]) == 0
    assert "index: ok: 3 articles" in capsys.readouterr().out
    reader = TantivyStore(old_index, writable=False)
    try:
        page = reader.search(SearchQuery(collapse=Collapse.DUPLICATES))
        assert (page.total, page.groups, len(page.hits)) == (3, 1, 1)
        assert (page.hits[0].duplicates, page.hits[0].story_sources) == (3, 3)
        assert len(reader.near_duplicates(["0-harbour"])) == 3
        count, summaries = reader.stories(SearchQuery())
        assert (count, summaries[0].size) == (1, 3)
    finally:
        reader.close()
