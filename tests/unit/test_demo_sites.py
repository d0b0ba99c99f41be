"""The demo outlets as `newsagg demo` serves them: one host each, listings as built."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from newsagg.core.sources import load_sources

from newsagg.cli.demo_site import MANIFEST_PATH, OUTLETS, DemoSites

MANIFEST = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode("utf-8")


@pytest.fixture(scope="module")
def sites() -> Iterator[DemoSites]:
    running = DemoSites().start()
    yield running
    running.stop()


def test_the_served_outlets_are_the_built_ones():
    assert [o.source for o in OUTLETS] == list(MANIFEST["outlets"])
    for outlet in OUTLETS:
        built = MANIFEST["outlets"][outlet.source]
        assert outlet.site_dir.name == built["site_dir"]
        assert outlet.name == built["site_name"]
        assert outlet.feed == built["feeds"]["rss"]
        assert outlet.sitemap in built["feeds"].values()
    counts = [o["article_count"] for o in MANIFEST["outlets"].values()]
    assert sum(counts) == MANIFEST["article_count"] == len(MANIFEST["articles"])
    assert {a["source"] for a in MANIFEST["articles"]} == set(MANIFEST["outlets"])


def test_each_outlet_is_its_own_host_with_its_own_robots_and_listings(sites: DemoSites):
    assert len({site.url for site in sites.sites}) == len(OUTLETS)
    assert sites.url == sites.sites[0].url
    robots = [fetch(f"{site.url}/robots.txt") for site in sites.sites]
    assert len(set(robots)) == len(robots)
    for site in sites.sites:
        feed = fetch(f"{site.url}/{site.outlet.feed}")
        assert "__BASE_URL__" not in feed
        assert f"<link>{site.url}/articles/" in feed
        assert f"{site.url}/{site.outlet.sitemap}" in fetch(f"{site.url}/robots.txt")


def test_the_sources_file_crawls_every_outlet(sites: DemoSites, tmp_path: Path):
    path = tmp_path / "sources.yaml"
    path.write_text(sites.sources_yaml())
    sources = load_sources(path)
    assert [s.name for s in sources] == [o.source for o in OUTLETS]
    for source, site in zip(sources, sites.sites, strict=True):
        assert [str(u) for u in source.feeds] == [f"{site.url}/{site.outlet.feed}"]
        assert [str(u) for u in source.sitemaps] == [f"{site.url}/{site.outlet.sitemap}"]
