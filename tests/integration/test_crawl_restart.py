"""A crawl interrupted midway loses nothing, on a site that sends ETag / Last-Modified.

The slow feed and sitemap of the test site send validators and answer 304 to them, as
real feeds do; their 24 articles answer after a delay, so a crawl can be killed or
stopped while most are still unfetched. One more pass must then publish every article:
a listing's validators are kept only once everything it listed is done, so the next
pass never gets a 304 that hides the rest. An extraction worker that dies costs nothing:
its pages are extracted again in the same pass.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support.crawler_site import CrawlerSite
from support.crawler_site.crawl import crawl, published
from support.crawler_site.pages import SLOW_PATHS
from support.servers import wait_until


def sources(site: CrawlerSite) -> str:
    return f"""sources:
  - name: slow
    feeds: [{site.url}/slow-feed.xml]
    sitemaps: [{site.url}/slow-sitemap.xml]
    allow_private: true
"""


def slow_fetches(site: CrawlerSite) -> int:
    return sum(1 for hit in site.requests if hit.path.startswith("/slow/") and hit.status == 200)


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            stat = entry.read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.parent.name))
    return found


def extraction_workers(pid: int) -> list[int]:
    """The crawler's grandchildren under its forkserver (not its resource tracker)."""
    return [
        worker
        for child in children_of(pid)
        if b"forkserver" in Path(f"/proc/{child}/cmdline").read_bytes()
        for worker in children_of(child)
    ]


def kill9(process: subprocess.Popen[bytes]) -> None:
    process.kill()


def sigterm(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)


def kill_a_worker(process: subprocess.Popen[bytes]) -> None:
    workers = wait_until(lambda: extraction_workers(process.pid), 30, "extraction workers")
    os.kill(workers[0], signal.SIGKILL)


def crawl_until_a_quarter(site: CrawlerSite, tmp_path: Path) -> subprocess.Popen[bytes]:
    """A `crawl --once` of the slow source (its log in tmp_path/crawl.log), returned once a
    quarter of the articles were fetched, so most are still to come."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "sources.yaml").write_text(sources(site))
    env = {
        **os.environ,
        "NEWSAGG_DATA_DIR": str(data_dir),
        "NEWSAGG_SOURCES": str(data_dir / "sources.yaml"),
        "NEWSAGG_CRAWL_HOST_CONCURRENCY": "2",
    }
    before = slow_fetches(site)
    with (tmp_path / "crawl.log").open("wb") as out:
        crawler = subprocess.Popen(
            [sys.executable, "-m", "newsagg.cli.main", "crawl", "--once"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: slow_fetches(site) - before >= 6, 180, "a quarter of the articles")
    except BaseException:
        crawler.kill()
        crawler.wait()
        raise
    return crawler


@pytest.mark.parametrize("interrupt", [kill9, sigterm])
def test_an_interrupted_pass_is_completed_by_the_next(
    site: CrawlerSite, tmp_path: Path, interrupt: Callable[[subprocess.Popen[bytes]], None]
):
    data_dir = tmp_path / "data"
    first = crawl_until_a_quarter(site, tmp_path)
    try:
        interrupt(first)
        first.wait(timeout=60)
    finally:
        first.kill()
        first.wait()
    assert len({a.url for a in published(data_dir)}) < len(SLOW_PATHS), "the fault cost nothing"

    run = crawl(data_dir, sources(site))
    assert run.returncode == 0, run.log
    urls = [article.url for article in published(data_dir)]
    missing = {site.url + path for path in SLOW_PATHS} - set(urls)
    assert not missing, f"{len(missing)} articles never published: {sorted(missing)[:3]}"
    ids_per_url = {u: {a.id for a in published(data_dir) if a.url == u} for u in set(urls)}
    assert all(len(ids) == 1 for ids in ids_per_url.values())


def test_a_killed_extraction_worker_costs_its_pass_nothing(site: CrawlerSite, tmp_path: Path):
    """A worker killed midway (out of memory, an operator) breaks the pool; the pages it
    failed are extracted again on the renewed pool in the same pass, instead of an
    interval later (an hour, for many sources)."""
    data_dir, log = tmp_path / "data", tmp_path / "crawl.log"
    first = crawl_until_a_quarter(site, tmp_path)
    try:
        kill_a_worker(first)
        assert first.wait(timeout=180) == 0, log.read_text()[-3000:]
    finally:
        first.kill()
        first.wait()
    urls = {a.url for a in published(data_dir)}
    assert urls == {site.url + path for path in SLOW_PATHS}, log.read_text()[-3000:]
    assert "again: " in log.read_text(), "no page was tried again after the kill"
    again = crawl(data_dir, sources(site))
    assert again.stat("listing/not_modified") == 2, again.log  # the pass was complete


def test_validators_are_kept_once_the_pass_is_complete(site: CrawlerSite, tmp_path: Path):
    data_dir = tmp_path / "data"
    assert crawl(data_dir, sources(site)).returncode == 0
    first = len(published(data_dir))
    assert first == len(SLOW_PATHS)
    again = crawl(data_dir, sources(site))
    assert again.stat("listing/not_modified") == 2, again.log  # feed and sitemap: 304
    assert len(published(data_dir)) == first


def test_links_no_request_can_be_made_of_end_nothing(site: CrawlerSite, tmp_path: Path):
    odd = (
        f"sources:\n  - name: odd\n    feeds: [{site.url}/odd-links.xml]\n    allow_private: true\n"
    )
    run = crawl(tmp_path / "data", odd)
    assert run.returncode == 0, run.log
    assert run.stat("article/bad_url") == 4, run.log
    urls = {article.url for article in published(tmp_path / "data")}
    assert urls == {f"{site.url}/slow/00.html", f"{site.url}/slow/01.html"}
    assert crawl(tmp_path / "data", odd).stat("listing/not_modified") == 1  # it was complete
