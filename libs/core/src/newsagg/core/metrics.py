"""Prometheus metrics shared by the services: one outcome counter per stage, few labels."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

ARTICLES = Counter(
    "newsagg_articles",
    "Articles by pipeline stage and outcome (one increment per article per stage).",
    ["stage", "status"],
)
LISTINGS = Counter(
    "newsagg_listings",
    "Feeds and sitemaps fetched by the crawler, by outcome.",
    ["status"],
)
BATCH_SECONDS = Histogram(
    "newsagg_indexer_batch_seconds",
    "Time to validate and upsert one batch.",
)
STORE_RETRIES = Counter(
    "newsagg_store_retries",
    "Store writes retried after the store was unavailable.",
)
CONSUMER_LAG = Gauge(
    "newsagg_consumer_lag",
    "Messages not yet committed by the indexer group.",
    ["partition"],
)


def serve_metrics(port: int) -> None:
    """Expose /metrics on `port` (0 turns it off)."""
    if port:
        start_http_server(port, addr="127.0.0.1")
