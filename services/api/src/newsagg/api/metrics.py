"""The API's Prometheus metrics (job newsagg-api), on a registry of its own, served at
/metrics by the API itself. `route` is a route template ("/v1/articles/{article_id}"),
"static" for the page's files, "/" for the page: never a raw path.

With several worker processes (service.run_api) each writes its values to files in the
directory PROMETHEUS_MULTIPROC_DIR names, and /metrics reads them all (prometheus_client's
multiprocess mode): the request series are sums over the workers; the process_* series
describe the worker that answered the scrape."""

from __future__ import annotations

import os

from newsagg.core.metrics import service_registry
from prometheus_client import Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
REGISTRY = service_registry()

REQUESTS = Counter(
    "newsagg_api_requests",
    "API requests by route template and status code.",
    ["route", "status"],
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "newsagg_api_request_duration_seconds",
    "Time to answer a request, by route template.",
    ["route"],
    registry=REGISTRY,
)
SEARCH_SECONDS = Histogram(
    "newsagg_api_search_duration_seconds",
    "Time the store took for a search, by sort and whether facets were asked.",
    ["sort", "facets"],
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "newsagg_api_rate_limited",
    "Requests refused with 429 by the rate limit.",
    registry=REGISTRY,
)
AUTH_FAILURES = Counter(
    "newsagg_api_auth_failures",
    "Requests refused with 401: no API key, or one that is not valid.",
    registry=REGISTRY,
)


def exposition() -> bytes:
    """The text /metrics serves: this process's registry, or every worker's values."""
    if not os.environ.get(MULTIPROCESS_VARIABLE):
        return generate_latest(REGISTRY)
    registry = service_registry()
    MultiProcessCollector(registry)
    return generate_latest(registry)
