"""The polling crawler's /metrics after one pass over the test site: every fetch outcome
by source (the hostile pages give each failure once), listings by kind and outcome, the
gauges, the bus counter; none of the indexer's or API's series; and the crawl state's
record of each source's pass, which `newsagg status` reads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from newsagg.crawler.state import CrawlState
from prometheus_client.parser import text_string_to_metric_families
from support.crawler_site import CrawlerSite
from support.crawler_site.crawl import FAST_FAILURES, published
from support.servers import free_port, wait_until

SOURCES = ("riverside", "hostile", "closed")


@dataclass
class Scrape:
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]
    data_dir: Path

    def value(self, name: str, **labels: str) -> float | None:
        return self.samples.get((name, frozenset(labels.items())))

    def names(self) -> set[str]:
        return {name for name, _ in self.samples}


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture(scope="module")
def after_one_pass(site: CrawlerSite, tmp_path_factory: pytest.TempPathFactory) -> Scrape:
    port = site.url.rsplit(":", 1)[1]
    data_dir = tmp_path_factory.mktemp("crawler-metrics") / "data"
    data_dir.mkdir()
    (data_dir / "sources.yaml").write_text(
        f"""sources:
  - name: riverside
    feeds: [{site.url}/feed.xml]
    sitemaps: [{site.url}/sitemap-index.xml]
    allow_private: true
    interval: 3600
  - name: hostile
    feeds: [{site.url}/hostile.xml, {site.url}/broken.xml]
    allow_private: true
    interval: 3600
  - name: closed
    feeds: [http://localhost:{port}/closed.xml]
    interval: 1800
"""
    )
    metrics_port = free_port()
    log = data_dir / "crawler.log"
    with log.open("w") as out:
        crawler = subprocess.Popen(
            [sys.executable, "-m", "newsagg.cli.main", "crawl"],
            env={
                **os.environ,
                **FAST_FAILURES,
                "NEWSAGG_DATA_DIR": str(data_dir),
                "NEWSAGG_SOURCES": str(data_dir / "sources.yaml"),
                "NEWSAGG_CRAWLER_METRICS_PORT": str(metrics_port),
                "NEWSAGG_METRICS_HOST": "127.0.0.1",
            },
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(
            lambda: log.read_text().count("pass finished:") >= len(SOURCES) or crawler.poll(),
            120,
            f"one pass over every source:\n{log.read_text()}",
        )
        assert crawler.poll() is None, log.read_text()
        samples = scrape(f"http://127.0.0.1:{metrics_port}/metrics")
    finally:
        crawler.send_signal(signal.SIGTERM)
        crawler.wait(timeout=30)
    return Scrape(samples, data_dir)


@pytest.mark.parametrize(
    ("outcome", "count"),
    [
        ("too_large", 3),  # the gzip bomb, a large page, a large streamed page
        ("timeout", 1),
        ("http_4xx", 1),
        ("http_5xx", 1),
        ("robots_denied", 1),
        ("error", 1),  # the redirect loop
    ],
)
def test_each_failed_fetch_has_its_outcome(after_one_pass: Scrape, outcome: str, count: int):
    fetches = "newsagg_crawler_fetches_total"
    assert after_one_pass.value(fetches, source="hostile", outcome=outcome) == count


def test_answered_fetches_and_refusals_are_counted(after_one_pass: Scrape):
    fetches = "newsagg_crawler_fetches_total"
    assert (after_one_pass.value(fetches, source="riverside", outcome="ok") or 0) >= 6
    assert after_one_pass.value(fetches, source="closed", outcome="refused_private") == 1
    seconds = "newsagg_crawler_fetch_duration_seconds_count"
    assert (after_one_pass.value(seconds, source="riverside") or 0) >= 6


def test_listings_by_kind_and_outcome(after_one_pass: Scrape):
    def listings(source: str, kind: str, outcome: str) -> float | None:
        return after_one_pass.value(
            "newsagg_crawler_listings_total", source=source, kind=kind, outcome=outcome
        )

    assert listings("riverside", "feed", "ok") == 1
    assert listings("riverside", "sitemap", "ok") == 3  # the index and its two children
    assert listings("hostile", "feed", "ok") == 1
    assert listings("hostile", "feed", "malformed") == 1
    assert listings("closed", "feed", "refused_private") == 1


def test_gauges_and_the_bus(after_one_pass: Scrape):
    value = after_one_pass.value
    assert value("newsagg_crawler_sources") == 3
    assert value("newsagg_crawler_poll_interval_seconds", source="closed") == 1800
    assert value("newsagg_crawler_last_success_timestamp_seconds", source="riverside")
    assert value("newsagg_crawler_last_success_timestamp_seconds", source="closed") is None
    assert value("newsagg_crawler_extraction_queue_pages") == 0
    extracted = sum(
        value("newsagg_crawler_articles_extracted_total", source=name) or 0 for name in SOURCES
    )
    on_the_bus = len(published(after_one_pass.data_dir))
    assert extracted >= on_the_bus > 0
    assert value("newsagg_bus_published_total", topic="articles") == on_the_bus


def test_only_the_crawler_s_series_are_served(after_one_pass: Scrape):
    ours = {name for name in after_one_pass.names() if name.startswith("newsagg_")}
    assert "newsagg_bus_published_total" in ours
    assert all(name.startswith(("newsagg_crawler_", "newsagg_bus_published_")) for name in ours), (
        ours
    )
    assert "process_cpu_seconds_total" in after_one_pass.names()


def test_the_crawl_state_keeps_each_source_s_last_pass(after_one_pass: Scrape):
    state = CrawlState(after_one_pass.data_dir / "crawler-state.sqlite")
    try:
        passes = state.source_passes()
    finally:
        state.close()
    assert passes["riverside"].last_success is not None
    assert passes["hostile"].errors >= 8  # the hostile pages and the malformed feed
    assert passes["closed"].last_success is None
    assert passes["closed"].errors == 1
