"""What every service's metrics share: a registry of its own, and serving it on /metrics.

Each service defines its metrics in its own module (newsagg.crawler.metrics,
newsagg.indexer.metrics, newsagg.api.metrics) on a registry made here, and serves only
that registry: the crawler's /metrics never shows the indexer's series, not even at
zero, even when one process (a test) imports every service. The metric names are the
contract with the dashboard and alert rules (docs/monitoring.md, "Metrics").
"""

from __future__ import annotations

import errno

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    start_http_server,
)


class MetricsAddressError(ValueError):
    """The metrics port cannot be bound (taken, or a host not on this machine).

    A ValueError, so `newsagg` prints it as one line and exits with its configuration
    error code, which the supervisor does not restart.
    """


def service_registry() -> CollectorRegistry:
    """A registry for one service: its own metrics plus the process, platform and GC
    collectors (CPU, memory, open files) that every Prometheus job is expected to have."""
    registry = CollectorRegistry(auto_describe=True)
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    return registry


def serve_metrics(registry: CollectorRegistry, host: str, port: int, variable: str) -> None:
    """Expose `registry` on http://host:port/metrics from a daemon thread; port 0 turns it off.

    `variable` is the setting that chose the port, named in the error when it cannot be
    bound, so the operator knows what to change.
    """
    if not port:
        return
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        why = "it is taken by another program" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise MetricsAddressError(
            f"cannot serve metrics on {host}:{port}: {why}; set {variable} to a free port"
            " (0 turns metrics off) or NEWSAGG_METRICS_HOST to an address of this machine"
        ) from exc
