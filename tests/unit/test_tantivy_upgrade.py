"""An index made before schema version 2 (every index written before issue 17): tantivy
will not open it with the new schema, so it is opened in its own layout, written without
the fields it lacks, and a filter on one fails with the command that rebuilds it, which
then makes the filter work (`newsagg repair --index`, from the bus)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
import tantivy
from newsagg.core.adapters.sqlite_bus import SqliteLogBus
from newsagg.core.adapters.tantivy_schema import (
    ANALYZER,
    FILTER_FIELDS,
    Layout,
    news_analyzer,
    schema,
)
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.article import Article, DateSource, Quality
from newsagg.core.ports import ARTICLES_TOPIC, IndexOutdated
from newsagg.core.query import parse_query
from newsagg.core.search import SearchQuery

from newsagg.cli.main import main

CRAWLED = datetime(2026, 9, 6, 10, tzinfo=UTC)


def _version_1_schema() -> tantivy.Schema:
    """The layout of issue 16: `doc` stored-only bytes, no date_source or quality field."""
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
    return builder.build()


def _fields(path: Path) -> set[str]:
    return {field["name"] for field in json.loads((path / "meta.json").read_bytes())["schema"]}


def _story(n: int, quality: Quality = Quality.OK) -> Article:
    return Article.create(
        url=f"https://upgrade.example/{n}",
        source="upgrade",
        title=f"Harbour story {n}",
        text=f"The harbour festival opened with boats and music, story {n}.",
        published_at=CRAWLED,
        date_source=DateSource.META,
        date_confidence=0.9,
        quality=quality,
        crawled_at=CRAWLED,
    )


@pytest.fixture
def old_index(tmp_path: Path) -> Path:
    path = tmp_path / "index"
    path.mkdir()
    old = tantivy.Index(_version_1_schema(), path=str(path))
    old.register_tokenizer(ANALYZER, news_analyzer())
    old.writer(heap_size=15_000_000, num_threads=1).commit()
    return path


def test_tantivy_refuses_the_new_schema_on_an_old_index(old_index: Path):
    """Why the store opens an old index in its own layout instead."""
    with pytest.raises(ValueError, match="schema does not match"):
        tantivy.Index(schema(), path=str(old_index), reuse=True)


def test_an_old_index_is_written_in_its_layout_and_says_what_it_lacks(
    old_index: Path, caplog: pytest.LogCaptureFixture
):
    assert Layout.of(old_index).missing == set(FILTER_FIELDS)
    writer = TantivyStore(old_index, writable=True)
    with caplog.at_level(logging.WARNING, logger="newsagg.store"):
        writer.ensure_schema()
    assert "newsagg repair --index" in caplog.text
    assert "date_source" in caplog.text
    stories = [_story(1), _story(2, Quality.LOW)]
    assert writer.upsert(stories).written == 2

    reader = TantivyStore(old_index, writable=False)
    assert reader.get_many([s.id for s in stories]) == {s.id: s for s in stories}
    hits = reader.search(SearchQuery(query=parse_query("harbour"))).hits
    assert {(hit.date_source, hit.quality) for hit in hits} == {("meta", "ok"), ("meta", "low")}
    for query in (SearchQuery(quality="low"), SearchQuery(date_sources=("none",))):
        with pytest.raises(IndexOutdated, match=r"`newsagg repair --index`") as raised:
            reader.search(query)
        assert raised.value.problem.startswith("this index was made before the")
    writer.close()
    reader.close()
    assert "quality" not in _fields(old_index)  # no silent rewrite


def test_check_names_an_old_index_and_repair_rebuilds_it_with_the_new_fields(
    old_index: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    data = old_index.parent
    for name in ("NEWSAGG_BUS_URL", "NEWSAGG_STORE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NEWSAGG_DATA_DIR", str(data))
    monkeypatch.setenv("NEWSAGG_INDEXER_METRICS_PORT", "0")
    stories = [_story(1), _story(2, Quality.LOW), _story(3)]
    bus = SqliteLogBus(data / "bus.sqlite")
    for story in stories:
        bus.publish(ARTICLES_TOPIC, story.id, story.to_json())
    bus.close()
    writer = TantivyStore(old_index, writable=True)
    writer.upsert(stories)
    writer.close()

    assert main(["check"]) == 0  # it works: services keep running on it
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("index:"))
    assert line.startswith("index: outdated: 3 articles (")
    assert "repair --index" in line
    assert main(["repair", "--index"]) == 0
    assert {"date_source", "quality"} <= _fields(old_index)
    capsys.readouterr()
    assert main(["check"]) == 0
    assert "index: ok: 3 articles" in capsys.readouterr().out
    reader = TantivyStore(old_index, writable=False)
    assert {hit.id for hit in reader.search(SearchQuery(quality="low")).hits} == {stories[1].id}
    assert reader.search(SearchQuery(date_sources=("meta",))).total == 3
    reader.close()
