"""The indexer's Prometheus metrics (job newsagg-indexer), on a registry of its own: the
consuming side of the bus, the batches, the store and how fresh what it indexes is."""

from __future__ import annotations

from newsagg.core.metrics import service_registry
from prometheus_client import Counter, Gauge, Histogram

REGISTRY = service_registry()

FRESHNESS_BUCKETS = (
    1,
    5,
    15,
    30,
    60,
    120,
    300,
    600,
    1800,
    3600,
    7200,
    21600,
    43200,
    86400,
    172800,
    604800,
)
"""Seconds to days: a feed polled every few minutes and a story found a day late both fit."""

BUS_CONSUMED = Counter(
    "newsagg_bus_consumed",
    "Messages the indexer consumed and committed, by topic.",
    ["topic"],
    registry=REGISTRY,
)
BUS_DEAD_LETTERS = Counter(
    "newsagg_bus_dead_letters",
    "Messages sent to the dead-letter topic, by source topic and reason (invalid: not an "
    "Article; rejected: the store refused it for good).",
    ["topic", "reason"],
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "newsagg_bus_consumer_lag_messages",
    "Messages of the topic not yet committed by the group, per partition.",
    ["group", "topic", "partition"],
    registry=REGISTRY,
)
BATCHES = Counter("newsagg_indexer_batches", "Batches committed.", registry=REGISTRY)
DOCUMENTS_INDEXED = Counter(
    "newsagg_indexer_documents_indexed",
    "Articles written to the store (stale versions and refused documents not counted).",
    registry=REGISTRY,
)
REVISIONS = Counter(
    "newsagg_indexer_revisions",
    "Articles written as a new revision of a stored one: the same id, a changed title or "
    "text (a re-fetch or a replayed version of the stored text is not counted).",
    registry=REGISTRY,
)
BATCH_SECONDS = Histogram(
    "newsagg_indexer_batch_duration_seconds",
    "Time from a batch's arrival to its commit (validate, upsert, dead letters, commit).",
    registry=REGISTRY,
)
ENRICH_SECONDS = Histogram(
    "newsagg_indexer_enrich_duration_seconds",
    "Time a batch spent in the enrichment stage (near-duplicates, stories, people), store "
    "reads and retries included.",
    registry=REGISTRY,
)
ENRICHED = Counter(
    "newsagg_indexer_enriched",
    "Articles by what enrichment found: duplicate (a near-duplicate of an indexed article), "
    "story_joined / story_started (joined a story or started one), unchanged (re-delivered "
    "unchanged: kept its group and story), repointed (stored copies whose original or group "
    "changed).",
    ["outcome"],
    registry=REGISTRY,
)
for _outcome in ("duplicate", "story_joined", "story_started", "unchanged", "repointed"):
    ENRICHED.labels(_outcome)
RETRIES = Counter(
    "newsagg_indexer_retries",
    "Operations retried after a dependency was unavailable, by dependency (store, bus).",
    ["dependency"],
    registry=REGISTRY,
)
for _dependency in ("store", "bus"):
    RETRIES.labels(_dependency)  # a series at 0 from the start: rate() sees the first retry
STORE_DOCUMENTS = Gauge("newsagg_store_documents", "Documents in the store.", registry=REGISTRY)
STORE_SIZE = Gauge(
    "newsagg_store_size_bytes",
    "Size of the store as the engine reports it (tantivy: the index directory; "
    "Elasticsearch: the primaries' store size).",
    registry=REGISTRY,
)
PUBLISHED_TO_SEARCHABLE = Histogram(
    "newsagg_freshness_published_to_searchable_seconds",
    "From an article's publication to its batch's commit (articles with a publish date).",
    buckets=FRESHNESS_BUCKETS,
    registry=REGISTRY,
)
FETCHED_TO_SEARCHABLE = Histogram(
    "newsagg_freshness_fetched_to_searchable_seconds",
    "From the crawler's fetch of an article to its batch's commit.",
    buckets=FRESHNESS_BUCKETS,
    registry=REGISTRY,
)
