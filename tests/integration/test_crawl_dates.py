"""Dates with provenance and the quality flag through the real crawler: a local site's feed and
sitemap list pages, `crawl --once` fetches and extracts them, and the articles on the bus say
where each date came from, what was refused, and which extraction is weak."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from newsagg.core.adapters.sqlite_bus import SqliteLogBus
from newsagg.core.article import Article, DateSource, Quality
from newsagg.core.ports import ARTICLES_TOPIC
from support.servers import Service

from newsagg.cli.demo_site import DemoSite

DATA = Path(__file__).parent.parent / "data" / "extraction"
STORY = "".join(
    f"<p>{p}</p>"
    for p in (
        "The harbour authority confirmed on Monday that the night ferry to the islands will run "
        "again from December, after a winter in which the crossing was cancelled for repairs.",
        "Islanders had petitioned for months, saying the only alternative, a morning boat with "
        "room for forty cars, left shift workers and hospital visitors stranded overnight.",
        "The authority said the refitted vessel passed its sea trials last week and that the "
        "timetable would be published on its website before the end of the month.",
    )
)


def page(title: str, head: str = "") -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"{head}</head><body><nav><a href='/'>Home</a></nav><article><h1>{title}</h1>"
        f"{STORY}</article></body></html>"
    )


def iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def published(data_dir: Path) -> dict[str, Article]:
    bus = SqliteLogBus(data_dir / "bus.sqlite")
    consumer = bus.consumer(ARTICLES_TOPIC, "test")
    try:
        articles = [Article.from_json(m.value) for m in consumer.poll(100, timeout=1)]
    finally:
        consumer.close()
        bus.close()
    return {article.url.rsplit("/", 1)[1]: article for article in articles}


def test_each_article_carries_its_dates_provenance_and_quality(tmp_path: Path):
    now = datetime.now(UTC).replace(microsecond=0)
    site_dir = tmp_path / "site"
    (site_dir / "articles").mkdir(parents=True)
    future = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": "Ferry back",
            "datePublished": iso(now + timedelta(days=3)),
        }
    )
    pages = {
        "future.html": page(
            "Ferry back",
            f'<script type="application/ld+json">{future}</script>'
            f'<meta property="article:published_time" content="{iso(now - timedelta(days=2))}">',
        ),
        "undated.html": page("Ferry timetable"),
        "in-sitemap.html": page("Ferry fares"),
    }
    for name, html in pages.items():
        (site_dir / "articles" / name).write_text(html)
    shutil.copy(DATA / "paywalled-teaser.html", site_dir / "articles" / "teaser.html")
    site = DemoSite(0, site_dir=site_dir).start()

    def item(name: str, listed: datetime | None) -> str:
        date = f"<pubDate>{format_datetime(listed)}</pubDate>" if listed else ""
        return f"<item><title>{name}</title><link>{site.url}/articles/{name}</link>{date}</item>"

    (site_dir / "feed.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Gazette</title>'
        + item("future.html", now - timedelta(days=6))
        + item("undated.html", now - timedelta(hours=5))
        + item("teaser.html", None)
        + "</channel></rss>"
    )
    sitemap_day = now - timedelta(days=1)
    (site_dir / "sitemap.xml").write_text(
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
        f"<url><loc>{site.url}/articles/in-sitemap.html</loc><news:news>"
        f"<news:publication_date>{iso(sitemap_day)}</news:publication_date></news:news></url>"
        "</urlset>"
    )
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "sources.yaml").write_text(
        f"sources:\n  - name: gazette\n    feeds: [{site.url}/feed.xml]\n"
        f"    sitemaps: [{site.url}/sitemap.xml]\n    allow_private: true\n"
    )
    env = {
        "NEWSAGG_DATA_DIR": str(data_dir),
        "NEWSAGG_SOURCES": str(data_dir / "sources.yaml"),
        "NEWSAGG_LOG_LEVEL": "DEBUG",
    }
    try:
        (tmp_path / "log").mkdir()
        service = Service(["crawl", "--once"], env, tmp_path / "log")
        assert service.process.wait(timeout=180) == 0, service.log()
    finally:
        site.stop()
    articles = published(data_dir)
    assert set(articles) == {"future.html", "undated.html", "in-sitemap.html", "teaser.html"}

    refused = articles["future.html"]
    assert refused.date_source is DateSource.META
    assert refused.published_at == now - timedelta(days=2)
    assert refused.listed_at == now - timedelta(days=6)
    assert refused.date_notes[0].startswith("refused the json-ld date")
    assert "differ by 4.0 days" in refused.date_notes[-1]

    undated = articles["undated.html"]
    assert undated.date_source is DateSource.FEED
    assert undated.published_at == undated.listed_at == now - timedelta(hours=5)
    assert undated.crawled_at > undated.published_at

    sitemap = articles["in-sitemap.html"]
    assert sitemap.date_source is DateSource.SITEMAP
    assert sitemap.published_at == sitemap_day

    teaser = articles["teaser.html"]
    assert teaser.quality is Quality.LOW
    assert "paywall" in teaser.quality_reasons
    assert all(articles[name].quality is Quality.OK for name in ("future.html", "undated.html"))
    assert "article/low_quality': 1" in service.log()
