"""`newsagg status` after a small real crawl of the test site and an indexer run, with the
services stopped: the source that answered is healthy with its articles of today, the one
refused by the address policy is named as unhealthy, and the lag is 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from newsagg.core.adapters import open_bus, open_store
from newsagg.core.ports import ARTICLES_TOPIC
from newsagg.core.settings import Settings
from newsagg.indexer.worker import Indexer
from support.crawler_site import CrawlerSite
from support.crawler_site.crawl import crawl


def index_everything(data_dir: Path) -> int:
    """What `newsagg index` does, until the bus is drained; the number of articles."""
    settings = Settings(data_dir=data_dir)
    bus = open_bus(settings.resolved_bus_url)
    store = open_store(settings.resolved_store_url, writable=True)
    store.ensure_schema()
    consumer = bus.consumer(ARTICLES_TOPIC, settings.indexer_group)
    indexer = Indexer(bus, consumer, store)
    try:
        while batch := consumer.poll(500, timeout=0.5):
            indexer.process(batch)
        return store.count()
    finally:
        consumer.close()
        store.close()
        bus.close()


def status(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsagg.cli.main", "status", *args],
        env={
            **os.environ,
            "NEWSAGG_DATA_DIR": str(data_dir),
            "NEWSAGG_SOURCES": str(data_dir / "sources.yaml"),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_status_after_a_real_crawl(site: CrawlerSite, tmp_path: Path):
    port = site.url.rsplit(":", 1)[1]
    data_dir = tmp_path / "data"
    sources = f"""sources:
  - name: riverside
    feeds: [{site.url}/feed.xml]
    allow_private: true
  - name: closed
    feeds: [http://localhost:{port}/closed.xml]
"""
    run = crawl(data_dir, sources)
    assert run.returncode == 1, run.log  # `closed` could not be read
    articles = index_everything(data_dir)
    assert articles > 0

    report = status(data_dir, "--json")
    assert report.returncode == 1, report.stderr
    body = json.loads(report.stdout)
    sources_health = {source["name"]: source for source in body["sources"]}
    riverside, closed = sources_health["riverside"], sources_health["closed"]
    assert riverside["healthy"], riverside
    assert riverside["articles_today"] == articles
    assert riverside["errors_last_pass"] == 0
    assert riverside["last_success"] is not None
    assert not closed["healthy"]
    assert closed["problem"] == "no listing answered in any pass"
    assert closed["errors_last_pass"] == 1
    assert body["bus"]["lag_total"] == 0
    assert body["bus"]["dead_letters"] == 0
    assert body["problems"] == ["source closed: no listing answered in any pass"]

    plain = status(data_dir)
    assert plain.returncode == 1
    assert plain.stdout.splitlines()[-1] == (
        "unhealthy: 1 problem(s): source closed: no listing answered in any pass"
    )
