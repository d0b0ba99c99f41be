"""Discovery modes, canonical URLs, conditional GET across a restart, and backfill,
on the crawler test site (tests/crawler_site) with the real `newsagg crawl`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from newsagg.core.article import Article, article_id
from support.crawler_site import CrawlerSite
from support.crawler_site.crawl import CrawlRun, crawl, published


def sources_for(site: CrawlerSite) -> str:
    return f"""sources:
  - name: home
    homepage: {site.url}/
    allow_private: true
  - name: sections
    sections:
      start_urls: [{site.url}/news/]
      depth: 2
      allow: ['/articles/', '/tag/', '/author/', '/news/']
      deny: ['/news/archive']
    allow_private: true
"""


@dataclass
class FirstPass:
    data_dir: Path
    run: CrawlRun
    articles: list[Article]


@pytest.fixture(scope="module")
def first(site: CrawlerSite, tmp_path_factory: pytest.TempPathFactory) -> FirstPass:
    data_dir = tmp_path_factory.mktemp("discovery") / "data"
    run = crawl(data_dir, sources_for(site))
    assert run.returncode == 0, run.log
    return FirstPass(data_dir, run, published(data_dir))


def ids_of(site: CrawlerSite, *paths: str) -> set[str]:
    return {article_id(f"{site.url}{path}") for path in paths}


def test_homepage_feed_and_robots_sitemaps_are_discovered(first: FirstPass, site: CrawlerSite):
    assert f"homepage of home announces feed {site.url}/feed.xml" in first.run.log
    assert f"robots.txt of home names sitemap {site.url}/sitemap-index.xml" in first.run.log
    home = {a.id for a in first.articles if a.source == "home"}
    assert home == ids_of(
        site,
        *(f"/articles/home-{n}.html" for n in range(1, 5)),
        "/articles/old-1.html",  # no --since and no max age: the whole sitemap index
        "/articles/old-2.html",
    )


def test_sections_publish_articles_but_not_index_tag_or_author_pages(
    first: FirstPass, site: CrawlerSite
):
    sections = [a for a in first.articles if a.source == "sections"]
    assert {a.id for a in sections} == ids_of(
        site, "/articles/sec-1.html", "/articles/sec-2.html", "/articles/sec-3.html"
    )  # sec-3 has no structured data: told apart by its prose; it is only on the tag page
    assert len(sections) == 3
    assert "not an article, links followed: " + f"{site.url}/tag/markets/" in first.run.log
    assert "(og:type profile)" in first.run.log
    assert first.run.stat("article/not_article") == 2
    assert not site.hits("/news/archive/")  # denied
    assert not site.hits("/about/")  # not allowed
    assert "elsewhere.invalid" not in first.run.log  # other hosts are not followed


def test_amp_and_mobile_variants_become_one_story(first: FirstPass, site: CrawlerSite):
    by_id: dict[str, list[Article]] = {}
    for article in first.articles:
        by_id.setdefault(article.id, []).append(article)
    # ?amp=1 names no canonical: mapped by rule
    (home2,) = by_id[article_id(f"{site.url}/articles/home-2.html")]
    assert home2.url.endswith("/articles/home-2.html?amp=1")
    # /amp/ path and the plain URL share one key: fetched once
    assert len(site.hits("/amp/articles/home-3.html") + site.hits("/articles/home-3.html")) == 1
    # an AMP page that names its canonical: the page's word wins
    home4 = by_id[article_id(f"{site.url}/articles/home-4.html")]
    assert {a.url.rsplit("/", 1)[-1] for a in home4} <= {"home-4", "home-4.html"}
    assert {a.canonical_url for a in home4} == {f"{site.url}/articles/home-4.html"}


def test_a_restart_asks_for_changes_and_fetches_nothing_seen(first: FirstPass, site: CrawlerSite):
    feed_hits = len(site.hits("/feed.xml"))
    second = crawl(first.data_dir, sources_for(site))
    assert second.returncode == 0, second.log
    feed = site.hits("/feed.xml")[feed_hits:]
    assert [(hit.status, bool(hit.if_none_match)) for hit in feed] == [(304, True)]
    assert "listing " + f"{site.url}/feed.xml of home: not modified (304)" in second.log
    assert second.stat("listing/not_modified") == 3  # the feed and both child sitemaps
    assert second.fetched("/articles/") == []
    assert len(published(first.data_dir)) == len(first.articles)


def test_backfill_since_skips_older_sitemaps_and_articles(tmp_path: Path, site: CrawlerSite):
    old_sitemap_hits = len(site.hits("/sitemap-old.xml"))
    sources = f"sources:\n  - name: backfill\n    homepage: {site.url}/\n    allow_private: true\n"
    run = crawl(tmp_path / "data", sources, "--since", "2026-01-01")
    assert run.returncode == 0, run.log
    assert len(site.hits("/sitemap-old.xml")) == old_sitemap_hits  # index lastmod 2020
    assert run.stat("listing/too_old") == 1
    assert run.stat("article/too_old") == 1  # old-2, listed in the new sitemap with 2019
    assert not any("old-" in path for path in run.fetched("/articles/"))
    ids = {a.id for a in published(tmp_path / "data")}
    assert ids == ids_of(site, *(f"/articles/home-{n}.html" for n in range(1, 5)))


def test_a_bad_since_date_is_a_usage_error(tmp_path: Path, site: CrawlerSite):
    run = crawl(tmp_path / "data", sources_for(site), "--since", "last tuesday")
    assert run.returncode == 2
    assert "not an ISO date" in run.log
