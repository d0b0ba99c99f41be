"""bench/crawl_site.py: the crawl benchmark's site is what the benchmark claims it is.

Distinct URLs and bodies for every copy of the 121 real pages, every page listed by its
source's feed and news sitemap (read back with the crawler's own parser), a sources file
newsagg accepts, and one nginx server per source host.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from newsagg.core.sources import load_sources
from newsagg.crawler.discovery import parse_listing

from bench.crawl_site import build_site, copy_of, host, nginx_conf, originals


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("site")
    return build_site(root, 250, sources=3, port=8123, now=datetime(2026, 1, 2, tzinfo=UTC))


def test_every_copy_has_its_own_url_file_and_bytes(site):
    assert len(site.pages) == 250
    assert len({page.url for page in site.pages}) == 250
    assert len({page.path for page in site.pages}) == 250
    same_original = [page for page in site.pages if page.key == site.pages[0].key]
    assert len(same_original) == 3  # 250 pages over 121 originals: copies 0, 1 and 2
    bodies = {page.path.read_bytes() for page in same_original}
    assert len(bodies) == 3
    assert all(page.url.encode() in page.path.read_bytes() for page in same_original)


def test_pages_go_round_robin_over_the_sources_and_their_hosts(site):
    assert Counter(page.source for page in site.pages) == {
        "bench-00": 84,
        "bench-01": 83,
        "bench-02": 83,
    }
    for index, (name, home) in enumerate(site.sources.items()):
        assert home == f"http://{host(index)}:8123/"
        assert all(page.url.startswith(home) for page in site.pages if page.source == name)


@pytest.mark.parametrize("listing", ["rss.xml", "news-sitemap.xml"])
def test_each_listing_names_every_page_of_its_source_as_the_crawler_reads_it(site, listing):
    for index, name in enumerate(site.sources):
        found = parse_listing((site.root / "www" / host(index) / listing).read_bytes())
        expected = [page.url for page in site.pages if page.source == name]
        assert [link.url for link in found.links] == expected
        assert all(link.stamp is not None for link in found.links)


def test_newsagg_accepts_the_sources_file(site, tmp_path: Path):
    (tmp_path / "sources.yaml").write_text(site.sources_yaml())
    sources = load_sources(tmp_path / "sources.yaml")
    assert [source.name for source in sources] == list(site.sources)
    assert all(source.allow_private for source in sources)
    assert [str(url) for url in sources[0].feeds] == ["http://127.0.0.1:8123/rss.xml"]
    assert [str(url) for url in sources[1].sitemaps] == ["http://127.0.0.2:8123/news-sitemap.xml"]


def test_the_truth_maps_each_url_to_a_benchmark_page(site):
    keys = {original.key for original in originals()}
    assert len(keys) == 121
    assert set(site.truth().values()) <= keys
    assert len(site.truth()) == 250


def test_homepages_announce_the_feed_and_robots_txt_the_sitemap(site):
    home = (site.root / "www" / host(1) / "index.html").read_text()
    assert 'type="application/rss+xml" href="/rss.xml"' in home
    robots = (site.root / "www" / host(1) / "robots.txt").read_text()
    assert "Sitemap: http://127.0.0.2:8123/news-sitemap.xml" in robots


def test_nginx_listens_on_each_source_host(site):
    conf = nginx_conf(site)
    for index in range(3):
        assert f"listen {host(index)}:8123;" in conf
        assert f"root {site.root / 'www' / host(index)};" in conf


def test_the_copy_stamp_goes_inside_the_head():
    stamped = copy_of(b"<html><HEAD lang=x><title>t</title></head></html>", "http://h/a", 2)
    assert stamped.startswith(b'<html><HEAD lang=x><meta name="newsagg-bench-copy"')
    assert b'content="2 http://h/a"' in stamped
    assert copy_of(b"<p>no head</p>", "http://h/b", 0).endswith(b"<p>no head</p>")
