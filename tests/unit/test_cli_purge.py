"""`newsagg purge --source NAME`: one source's articles leave the index and the crawl state."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from newsagg.core.adapters import open_store
from newsagg.core.article import Article
from newsagg.core.search import SearchQuery
from newsagg.core.settings import Settings
from newsagg.crawler.state import CrawlState

from newsagg.cli.main import main


def article(source: str, slug: str) -> Article:
    return Article.create(
        url=f"https://{source}.example/{slug}",
        source=source,
        title=f"{slug} story",
        text=f"The {slug} story, told at length by {source}.",
        crawled_at=datetime(2026, 10, 1, tzinfo=UTC),
    )


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An index and a crawl state holding three stories of `demo` and one of `mine`; `demo`'s
    first story was listed under two URLs (feed and sitemap)."""
    monkeypatch.setenv("NEWSAGG_DATA_DIR", str(tmp_path))
    settings = Settings()
    stories = [article("demo", "a"), article("demo", "b"), article("demo", "c")]
    mine = article("mine", "d")
    store = open_store(settings.resolved_store_url, writable=True)
    store.upsert([*stories, mine])
    store.close()
    state = CrawlState(settings.crawl_state_path)
    for story in [*stories, mine]:
        state.record(story.url, None, story.content_hash, story.id)
    state.record("https://demo.example/a?from=sitemap", None, "h", stories[0].id)
    state.close()
    return tmp_path


def seen_urls(data: Path) -> list[str]:
    with sqlite3.connect(data / "crawler-state.sqlite") as conn:
        return sorted(url for (url,) in conn.execute("SELECT url FROM seen"))


def test_purge_removes_the_source_from_index_and_crawl_state(data: Path, capsys):
    assert main(["purge", "--source", "demo"]) == 0
    assert "purged 3 articles of 'demo'" in capsys.readouterr().out
    store = open_store(Settings().resolved_store_url, writable=False)
    try:
        assert [a.source for a in store.scan(SearchQuery())] == ["mine"]
    finally:
        store.close()
    assert seen_urls(data) == ["https://mine.example/d"]


def test_purging_an_unknown_source_says_so(data: Path, capsys):
    assert main(["purge", "--source", "nobody"]) == 1
    assert "no articles of source 'nobody'" in capsys.readouterr().err
    assert len(seen_urls(data)) == 5


def test_forget_articles_drops_every_listed_url_of_those_ids(tmp_path: Path):
    state = CrawlState(tmp_path / "state.sqlite")
    try:
        state.record("https://x.example/1", None, "h1", "id-1")
        state.record("https://x.example/1?amp", None, "h1", "id-1")
        state.record("https://x.example/2", None, "h2", "id-2")
        assert state.forget_articles(["id-1", "id-1", "id-9"]) == 2
        assert state.needs_fetch("https://x.example/1", None)
        assert not state.needs_fetch("https://x.example/2", None)
    finally:
        state.close()
