"""The crawler's Prometheus metrics (job newsagg-crawler), on a registry of its own.

Labels stay bounded: `source` is a name from sources.yaml, never a URL; outcomes and
reasons come from small fixed sets (failures.FETCH_OUTCOMES and the report's statuses).
"""

from __future__ import annotations

from newsagg.core.metrics import service_registry
from prometheus_client import Counter, Gauge, Histogram

REGISTRY = service_registry()

FETCHES = Counter(
    "newsagg_crawler_fetches",
    "HTTP fetches (listings and article pages) by source and outcome.",
    ["source", "outcome"],
    registry=REGISTRY,
)
FETCH_SECONDS = Histogram(
    "newsagg_crawler_fetch_duration_seconds",
    "Time to download a listing or page (answered or timed out), by source.",
    ["source"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
ARTICLES_EXTRACTED = Counter(
    "newsagg_crawler_articles_extracted",
    "Article pages whose article was extracted, by source.",
    ["source"],
    registry=REGISTRY,
)
ARTICLES_LOW_QUALITY = Counter(
    "newsagg_crawler_articles_low_quality",
    "Extracted articles marked low quality (kept, flagged: paywall, teaser, link list...), "
    "by source; over newsagg_crawler_articles_extracted, the source's share of them.",
    ["source"],
    registry=REGISTRY,
)
EXTRACTION_FAILURES = Counter(
    "newsagg_crawler_extraction_failures",
    "Fetched pages that yielded no article, by source and reason.",
    ["source", "reason"],
    registry=REGISTRY,
)
EXTRACTION_RETRIES = Counter(
    "newsagg_crawler_extraction_retries",
    "Pages whose extraction was tried a second time, on a renewed pool, after a worker died "
    "or the page ran past NEWSAGG_EXTRACTION_TIMEOUT, by source.",
    ["source"],
    registry=REGISTRY,
)
LISTINGS = Counter(
    "newsagg_crawler_listings",
    "Listings read (feeds, sitemaps, section start pages) by source, kind and outcome.",
    ["source", "kind", "outcome"],
    registry=REGISTRY,
)
LAST_SUCCESS = Gauge(
    "newsagg_crawler_last_success_timestamp_seconds",
    "Unix time of the last poll of the source in which one of its listings answered.",
    ["source"],
    registry=REGISTRY,
)
POLL_INTERVAL = Gauge(
    "newsagg_crawler_poll_interval_seconds",
    "The source's configured poll interval.",
    ["source"],
    registry=REGISTRY,
)
SOURCES = Gauge("newsagg_crawler_sources", "Sources configured.", registry=REGISTRY)
EXTRACTION_QUEUE = Gauge(
    "newsagg_crawler_extraction_queue_pages",
    "Pages handed to the extraction pool and not yet extracted (waiting or in a worker).",
    registry=REGISTRY,
)
BUS_PUBLISHED = Counter(
    "newsagg_bus_published",
    "Messages the crawler published to the bus, by topic.",
    ["topic"],
    registry=REGISTRY,
)
