"""The demo outlets as `newsagg demo` serves them: one host each, listings as built, listed
once (the manifest) and found from an installed wheel as well as from a checkout."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from newsagg.core.sources import load_sources

from newsagg.cli.demo_site import MANIFEST_PATH, OUTLETS, DemoSites, read_outlets

MANIFEST = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
REPO = Path(__file__).resolve().parents[2]


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
        assert outlet.feed == built["feeds"]["rss"] == built["crawl"]["feed"]
        assert outlet.sitemap == built["crawl"]["sitemap"]
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


def test_the_outlets_are_the_manifests_alone(tmp_path: Path):
    """One more outlet in the manifest is served with no other list to update."""
    manifest = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    built = list(manifest["outlets"])
    manifest["outlets"]["film-wire"] = {
        **manifest["outlets"]["reel-news"],
        "site_name": "Film Wire",
        "site_dir": "site-film-wire",
        "crawl": {"feed": "wire.xml", "sitemap": "wire-sitemap.xml"},
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    outlets = read_outlets(tmp_path / "manifest.json")
    assert [o.source for o in outlets] == [*built, "film-wire"]
    wire = outlets[-1]
    assert (wire.name, wire.site_dir, wire.feed, wire.sitemap) == (
        "Film Wire",
        tmp_path / "site-film-wire",
        "wire.xml",
        "wire-sitemap.xml",
    )


SERVE_FROM_INSTALL = """
import json, sys, urllib.request
from newsagg.cli.demo_site import DEMO_DIR, DemoSites
sites = DemoSites().start()
try:
    robots = {
        s.outlet.source: (s.url, urllib.request.urlopen(s.url + "/robots.txt").read().decode())
        for s in sites.sites
    }
finally:
    sites.stop()
print(json.dumps({"demo_dir": str(DEMO_DIR), "robots": robots}))
"""


def test_an_installed_wheel_carries_and_serves_the_demo_sites(tmp_path: Path):
    """Built (offline) and installed without the checkout, the CLI still finds its sites."""
    uv = shutil.which("uv") or str(REPO / ".cache" / "uv" / "bin" / "uv")
    if not Path(uv).is_file():
        pytest.skip("uv is not installed (make installs it into .cache/uv)")
    run = {"capture_output": True, "text": True, "timeout": 300, "check": True}
    subprocess.run([uv, "build", "--wheel", "--offline", "--out-dir", tmp_path, REPO], **run)
    (wheel,) = tmp_path.glob("newsagg-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    data = "newsagg/cli/demo_sites"
    assert f"{data}/manifest.json" in names
    for built in MANIFEST["outlets"].values():
        for page in (built["robots"], built["crawl"]["feed"], *built["listing_pages"]):
            assert f"{data}/{built['site_dir']}/{page}" in names
    for article in MANIFEST["articles"]:
        site_dir = MANIFEST["outlets"][article["source"]]["site_dir"]
        assert f"{data}/{site_dir}/{article['path']}" in names

    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    subprocess.run([uv, "venv", "--offline", "--python", sys.executable, venv], **run)
    subprocess.run(
        [uv, "pip", "install", "--offline", "--no-deps", "--python", python, wheel], **run
    )
    served = subprocess.run([python, "-c", SERVE_FROM_INSTALL], cwd=tmp_path, **run)
    answer = json.loads(served.stdout)
    assert Path(answer["demo_dir"]).is_relative_to(venv)
    assert not Path(answer["demo_dir"]).resolve().is_relative_to(REPO)
    for source, built in MANIFEST["outlets"].items():
        url, robots = answer["robots"][source]
        built_robots = REPO / "deploy" / "demo-site" / built["site_dir"] / "robots.txt"
        assert robots == built_robots.read_text().replace("__BASE_URL__", url)
