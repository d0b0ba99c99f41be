"""Autodiscovery (homepage feeds, robots.txt sitemaps) and section pages: article or index."""

from __future__ import annotations

import pytest
from newsagg.core.sources import Sections
from newsagg.crawler.autodiscovery import feed_links, robots_sitemaps
from newsagg.crawler.sections import classify_page, follow_links

LD_JSON = '<script type="application/ld+json">{}</script>'
PROSE = "<p>" + "The council met on Tuesday to discuss the river road and its lamps. " * 10 + "</p>"


def test_feed_links_from_a_homepage():
    page = """<html><head>
    <link rel="alternate" type="application/rss+xml" href="/rss.xml">
    <link rel="Alternate" type="application/atom+xml; charset=utf-8" href="https://cdn.example/atom">
    <link rel="alternate" type="text/html" hreflang="de" href="/de/">
    <link rel="stylesheet" href="/s.css">
    <link rel="alternate" type="application/rss+xml" href="/rss.xml">
    <link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
    </head><body></body></html>"""
    assert feed_links(page, "https://news.example/") == [
        "https://news.example/rss.xml",
        "https://cdn.example/atom",
    ]


@pytest.mark.parametrize("page", ["", "   ", "plain text, no markup"])
def test_no_feed_links_in_empty_or_odd_pages(page: str):
    assert feed_links(page, "https://news.example/") == []


def test_robots_sitemap_lines():
    robots = """User-agent: *
Disallow: /private/
Sitemap: https://news.example/sitemap-index.xml
sitemap: /news-sitemap.xml   # relative, lower case
Sitemap:
Sitemap: ftp://news.example/x.xml
"""
    assert robots_sitemaps(robots, "https://news.example/robots.txt") == [
        "https://news.example/sitemap-index.xml",
        "https://news.example/news-sitemap.xml",
    ]


def page(head: str = "", body: str = "") -> str:
    return f"<html><head><title>t</title>{head}</head><body>{body}</body></html>"


@pytest.mark.parametrize(
    ("html", "is_article", "reason"),
    [
        (
            page(LD_JSON.format('{"@type": "NewsArticle"}')),
            True,
            "schema.org article type",
        ),
        (
            page(LD_JSON.format('{"@graph": [{"@type": "CollectionPage"}]}')),
            False,
            "schema.org type CollectionPage",
        ),
        (page('<meta property="og:type" content="article">'), True, "og:type article"),
        (page('<meta property="og:type" content="profile">', PROSE), False, "og:type profile"),
        (page(body=PROSE), True, "characters of prose"),
        (page(body="<p>Short note.</p>"), False, "characters of prose"),
        (
            page(body=PROSE + "".join(f"<a href='/s{i}'>{'headline ' * 8}</a>" for i in range(30))),
            False,
            "link density",
        ),
    ],
)
def test_classify_page(html: str, is_article: bool, reason: str):
    kind = classify_page(html)
    assert kind.is_article is is_article
    assert reason in kind.reason


def test_follow_links_stays_on_the_host_and_obeys_the_patterns():
    sections = Sections(
        start_urls=("https://news.example/world/",), allow=("/world/", "/tag/"), deny=("/tag/ads",)
    )
    html = page(
        body="""<a href="/world/story-1#comments">1</a> <a href="/world/story-1">again</a>
        <a href="/tag/ads/">denied</a> <a href="/tag/cycling/">tag</a>
        <a href="/about/">not allowed</a> <a href="https://other.example/world/x">other host</a>
        <a href="mailto:x@news.example">mail</a> <a href="/world/">itself</a>"""
    )
    assert follow_links(html, "https://news.example/world/", sections) == [
        "https://news.example/world/story-1",
        "https://news.example/tag/cycling/",
    ]
