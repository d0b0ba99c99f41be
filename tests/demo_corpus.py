"""The demo site's 36 stories as the crawler extracts them, indexed into a TantivyStore."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.article import Article
from newsagg.crawler.extraction import extract_article

from newsagg.cli.demo_site import SITE_DIR

BASE_URL = "http://demo.test"


def demo_articles() -> list[Article]:
    crawled = datetime(2026, 11, 25, tzinfo=UTC)
    return [
        extract_article(
            page.read_text(encoding="utf-8").replace("__BASE_URL__", BASE_URL),
            url=f"{BASE_URL}/articles/{page.name}",
            source="marquee-daily",
            crawled_at=crawled,
        )
        for page in sorted((SITE_DIR / "articles").glob("*.html"))
        if page.stem not in ("empty", "not-html")
    ]


def demo_store(directory: Path) -> TantivyStore:
    """A writable store holding the demo stories; the caller closes it."""
    store = TantivyStore(directory, writable=True)
    store.ensure_schema()
    articles = demo_articles()
    assert store.upsert(articles).written == len(articles) == 36
    return store
