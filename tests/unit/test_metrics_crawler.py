"""PassReport's three views agree: each outcome is one Prometheus count (with the metric's
own label names for it), one Scrapy stat and one entry in the pass's summary."""

from __future__ import annotations

from collections import Counter
from typing import Any, cast

import pytest
from newsagg.crawler.failures import fetch_outcome
from newsagg.crawler.metrics import REGISTRY
from newsagg.crawler.report import PassReport
from prometheus_client import generate_latest
from scrapy.crawler import Crawler


class Stats:
    def __init__(self) -> None:
        self.values: Counter[str] = Counter()

    def inc_value(self, key: str, count: int = 1) -> None:
        self.values[key] += count


class FakeCrawler:
    def __init__(self) -> None:
        self.stats = Stats()


def report() -> tuple[PassReport, Stats]:
    crawler = FakeCrawler()
    return PassReport(cast(Crawler, crawler)), crawler.stats


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(
    ("reason", "outcome"),
    [
        ("private_address", "refused_private"),
        ("not_http", "refused_private"),
        ("robots_disallowed", "robots_denied"),
        ("too_large", "too_large"),
        ("timeout", "timeout"),
        ("http_4xx", "http_4xx"),
        ("http_5xx", "http_5xx"),
        ("redirect_loop", "error"),
        ("connection", "error"),
        ("ignored", "error"),
    ],
)
def test_failure_reasons_map_to_the_metric_outcomes(reason: str, outcome: str):
    assert fetch_outcome(reason) == outcome


def test_a_304_listing_is_a_success_of_its_kind():
    passed, stats = report()
    before = sample(
        "newsagg_crawler_listings_total", source="u1", kind="sitemap", outcome="not_modified"
    )
    passed.fetch("u1", "not_modified", 0.2)
    passed.listing("u1", "not_modified", kind="sitemap")
    assert (
        sample(
            "newsagg_crawler_listings_total", source="u1", kind="sitemap", outcome="not_modified"
        )
        == before + 1
    )
    assert sample("newsagg_crawler_fetches_total", source="u1", outcome="not_modified") >= 1
    assert sample("newsagg_crawler_last_success_timestamp_seconds", source="u1") > 0
    assert passed.sources["u1"].last_success is not None
    assert stats.values == {"fetch/not_modified": 1, "listing/not_modified": 1}


def test_a_failed_listing_counts_its_fetch_outcome_and_is_an_error_of_the_pass():
    passed, stats = report()
    passed.listing("u2", "http_5xx", "https://u2.example/rss.xml", "feed")
    passed.listing("u2", "too_old")  # not read on purpose: no metric, no error
    assert (
        sample("newsagg_crawler_listings_total", source="u2", kind="feed", outcome="http_5xx") == 1
    )
    assert passed.sources["u2"].errors == 1
    assert passed.sources["u2"].last_success is None
    assert stats.values["listing/too_old"] == 1


def test_extraction_outcomes():
    passed, stats = report()
    passed.article("u3", "extract", "ok", "extracted")
    passed.article("u3", "extract", "no_article")
    passed.article("u3", "extract", "worker_died", "extract_worker_died")
    passed.article("u3", "crawl", "not_article")  # an index page found by sections: followed
    assert sample("newsagg_crawler_articles_extracted_total", source="u3") == 1
    failures = "newsagg_crawler_extraction_failures_total"
    assert sample(failures, source="u3", reason="not_article") == 1
    assert sample(failures, source="u3", reason="worker_died") == 1
    assert passed.sources["u3"].errors == 2
    assert "2 failed (no_article 1, worker_died 1)" in passed.sources["u3"].summary("u3")
    assert stats.values["article/extracted"] == 1


def test_the_crawler_s_registry_holds_no_other_service_s_series():
    import importlib

    importlib.import_module("newsagg.indexer.metrics")
    importlib.import_module("newsagg.api.metrics")
    text: Any = generate_latest(REGISTRY).decode()
    assert "newsagg_crawler_fetches_total" in text
    assert "newsagg_indexer_" not in text
    assert "newsagg_api_" not in text
    assert "newsagg_bus_consumed" not in text
