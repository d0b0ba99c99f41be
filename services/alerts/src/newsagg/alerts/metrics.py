"""The alerts worker's Prometheus metrics (job newsagg-alerts), on a registry of its own.

The names are the contract with the dashboard and the alert rules (docs/monitoring.md):
matching (articles matched, new matches, time per batch), deliveries by channel, event and
outcome, how long after an article was searchable it reached its receivers, and the state
a page should show (failing searches, matches waiting, the group's lag, articles skipped).
"""

from __future__ import annotations

from newsagg.core.metrics import service_registry
from prometheus_client import Counter, Gauge, Histogram

REGISTRY = service_registry()

LATENCY_BUCKETS = (0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400)
"""Instant deliveries land in seconds (target p95 < 5 s); digests in hours."""

ARTICLES_MATCHED = Counter(
    "newsagg_alerts_articles_matched",
    "Articles run against the active saved searches (as the store holds them).",
    registry=REGISTRY,
)
MATCHES = Counter(
    "newsagg_alerts_matches",
    "New matches recorded (a search finding an article it had found before is not counted).",
    registry=REGISTRY,
)
MATCH_SECONDS = Histogram(
    "newsagg_alerts_match_duration_seconds",
    "Time to match one batch against every active saved search (presearch and verification).",
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "newsagg_alerts_deliveries",
    "Deliveries sent, by channel (webhook, email), event (matches, test, spike) and outcome "
    "(ok: the receiver took it; failed: an error, a non-2xx answer or a timeout).",
    ["channel", "event", "outcome"],
    registry=REGISTRY,
)
for _channel in ("webhook", "email"):
    for _event in ("matches", "test", "spike"):
        for _outcome in ("ok", "failed"):
            DELIVERIES.labels(_channel, _event, _outcome)  # series at 0: rate() sees the first
DELIVERY_LATENCY = Histogram(
    "newsagg_alerts_delivery_latency_seconds",
    "From the moment the alerts worker first read an article from the store (searchable; "
    "the match's matched_at) to the close of the delivery that carried it, per article.",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
FAILING_SEARCHES = Gauge(
    "newsagg_alerts_failing_searches",
    "Saved searches of this worker's shard whose delivery gave up after the maximum attempts.",
    registry=REGISTRY,
)
PENDING_MATCHES = Gauge(
    "newsagg_alerts_pending_matches",
    "Matches not yet delivered, over the saved searches of this worker's shard that have a "
    "channel (webhook or email); paused and failing ones included.",
    registry=REGISTRY,
)
MATCHES_PRUNED = Counter(
    "newsagg_alerts_matches_pruned",
    "Matches deleted for being older than NEWSAGG_ALERTS_MATCH_RETENTION_DAYS (delivered ones, "
    "and those of feed-only searches).",
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "newsagg_alerts_consumer_lag",
    "Messages of the articles topic not yet committed by the alerts group, per partition.",
    ["partition"],
    registry=REGISTRY,
)
SKIPPED = Counter(
    "newsagg_alerts_skipped",
    "Articles never matched because the store did not hold them within the wait (dead-lettered "
    "or refused by the indexer, or purged).",
    registry=REGISTRY,
)
RETRIES = Counter(
    "newsagg_alerts_retries",
    "Operations retried after a dependency was unavailable, by dependency (store, bus).",
    ["dependency"],
    registry=REGISTRY,
)
for _dependency in ("store", "bus"):
    RETRIES.labels(_dependency)
