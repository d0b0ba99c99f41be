"""The crawler's memory across restarts: seen and unchanged pages are not fetched again."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from newsagg.core.adapters.sqlite_bus import SqliteLogBus
from newsagg.core.ports import ARTICLES_TOPIC
from support.servers import Service

from newsagg.cli.demo_site import SITE_DIR, DemoSite, DemoSites


def crawl_env(data_dir: Path, sources: str) -> dict[str, str]:
    data_dir.mkdir(parents=True)
    (data_dir / "sources.yaml").write_text(sources)
    return {
        "NEWSAGG_DATA_DIR": str(data_dir),
        "NEWSAGG_SOURCES": str(data_dir / "sources.yaml"),
        "NEWSAGG_LOG_LEVEL": "DEBUG",
    }


def crawl_once(env: dict[str, str], log_dir: Path) -> str:
    log_dir.mkdir()
    service = Service(["crawl", "--once"], env, log_dir)
    assert service.process.wait(timeout=180) == 0, service.log()
    return service.log()


def published(data_dir: Path) -> int:
    bus = SqliteLogBus(data_dir / "bus.sqlite")
    try:
        return bus.topic_size(ARTICLES_TOPIC)
    finally:
        bus.close()


def article_fetches(log: str) -> int:
    return len(re.findall(r"Crawled \(200\) <GET \S+/articles/", log))


def test_second_pass_fetches_and_publishes_nothing_new(
    tmp_path: Path, manifest: dict, demo_site: DemoSites
):
    env = crawl_env(tmp_path / "data", demo_site.sources_yaml())
    first = crawl_once(env, tmp_path / "first")
    assert article_fetches(first) == manifest["article_count"]
    assert published(tmp_path / "data") == manifest["article_count"]

    second = crawl_once(env, tmp_path / "second")  # a new process: only the state file remembers
    assert article_fetches(second) == 0
    assert published(tmp_path / "data") == manifest["article_count"]


def test_updated_story_is_fetched_again_but_an_unchanged_body_is_not_resent(
    tmp_path: Path, manifest: dict
):
    site_dir = tmp_path / "site"
    (site_dir / "articles").mkdir(parents=True)
    name = f"{manifest['reference_slug']}.html"
    shutil.copy(SITE_DIR / "articles" / name, site_dir / "articles" / name)
    site = DemoSite(0, site_dir=site_dir).start()
    page = f"{site.url}/articles/{name}"

    def sitemap(lastmod: str) -> None:
        (site_dir / "rss.xml").write_text(
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{page}</loc><lastmod>{lastmod}</lastmod></url></urlset>"
        )

    sitemap("2026-09-14T10:35:00Z")
    try:
        env = crawl_env(
            tmp_path / "data",
            f"sources:\n  - name: one\n    sitemaps: [{site.url}/rss.xml]\n"
            "    allow_private: true\n",
        )
        assert article_fetches(crawl_once(env, tmp_path / "a")) == 1
        assert article_fetches(crawl_once(env, tmp_path / "b")) == 0
        sitemap("2026-09-15T08:00:00Z")
        refetch = crawl_once(env, tmp_path / "c")
        assert article_fetches(refetch) == 1
        assert "unchanged since the last crawl" in refetch
        assert published(tmp_path / "data") == 1
    finally:
        site.stop()
