"""Both demo outlets' stories as the crawler extracts them, indexed into a TantivyStore."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.article import Article
from newsagg.crawler.extraction import extract_article

from newsagg.cli.demo_site import MANIFEST_PATH, OUTLETS, page_text

MANIFEST = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))


def demo_articles() -> list[Article]:
    """Every article of every outlet, under its own source name (one host per outlet); a
    list of the caller's own."""
    return list(_extracted())


@cache
def _extracted() -> tuple[Article, ...]:
    """Extracted once per test session (a second or two of trafilatura each time, asked for
    by a dozen tests); Articles are frozen, so sharing them is safe."""
    crawled = datetime(2026, 11, 25, tzinfo=UTC)
    articles: list[Article] = []
    for outlet in OUTLETS:
        base = f"https://{outlet.source}.demo.test"
        articles += [
            extract_article(
                page_text(outlet.site_dir, f"articles/{page.name}", base),
                url=f"{base}/articles/{page.name}",
                source=outlet.source,
                crawled_at=crawled,
            )
            for page in sorted((outlet.site_dir / "articles").glob("*.html"))
            if page.stem not in ("empty", "not-html")
        ]
    return tuple(articles)


def demo_corpus() -> list[Article]:
    """Marquee Daily's stories: the corpus the editor queries of the parity test and the
    endpoint tests were written for."""
    return [article for article in demo_articles() if article.source == "marquee-daily"]


def demo_store(directory: Path) -> TantivyStore:
    """A writable store holding the demo stories; the caller closes it."""
    store = TantivyStore(directory, writable=True)
    store.ensure_schema()
    articles = demo_articles()
    assert store.upsert(articles).written == len(articles) == MANIFEST["article_count"]
    return store
