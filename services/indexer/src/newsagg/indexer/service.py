"""Wiring of the indexer service: settings -> bus, store, worker; SIGTERM/SIGINT stop it cleanly.

Damaged data (DataCorrupted) stops it for good: it is logged as an error with the
repair command and raised, so `newsagg index` exits with its own code and the
supervisor does not restart it into the same damage. So does an index too old for the
documents (IndexOutdated): only the rebuild it names helps.
"""

from __future__ import annotations

import logging
import threading

from newsagg.core.adapters import open_bus, open_store
from newsagg.core.consuming import join_group, stop_on_signals
from newsagg.core.enrichment import Enricher, EnrichmentSettings
from newsagg.core.logs import configure_logging
from newsagg.core.metrics import serve_metrics
from newsagg.core.ports import (
    ARTICLES_TOPIC,
    DataCorrupted,
    IndexOutdated,
)
from newsagg.core.settings import Settings
from newsagg.indexer.metrics import REGISTRY
from newsagg.indexer.worker import Indexer

log = logging.getLogger("newsagg.indexer")


def run_indexer(settings: Settings) -> None:
    configure_logging(settings.log_level, settings.log_format, "indexer")
    serve_metrics(
        REGISTRY,
        settings.metrics_host,
        settings.indexer_metrics_port,
        "NEWSAGG_INDEXER_METRICS_PORT",
    )
    stop = stop_on_signals(log)
    try:
        _index(settings, stop)
    except DataCorrupted as exc:
        log.error("stopping, damaged data cannot be retried away: %s", exc)
        raise
    except IndexOutdated as exc:
        log.error("stopping, this index cannot take the new documents: %s", exc)
        raise


def _index(settings: Settings, stop: threading.Event) -> None:
    bus = open_bus(settings.resolved_bus_url, settings)
    store = open_store(settings.resolved_store_url, writable=True, settings=settings)
    consumer = join_group(
        bus,
        ARTICLES_TOPIC,
        settings.indexer_group,
        stop=stop,
        max_delay=settings.indexer_max_retry_delay,
        log=log,
    )
    if consumer is None:
        store.close()
        bus.close()
        return
    log.info("indexing %s -> %s", settings.resolved_bus_url, settings.resolved_store_url)
    try:
        Indexer(
            bus,
            consumer,
            store,
            batch_size=settings.indexer_batch_size,
            batch_wait=settings.indexer_batch_wait,
            max_retry_delay=settings.indexer_max_retry_delay,
            stop=stop,
            group=settings.indexer_group,
            enricher=(
                Enricher(store, EnrichmentSettings.from_settings(settings))
                if settings.enrich
                else None
            ),
        ).run()
    finally:
        consumer.close()
        store.close()
        bus.close()
        log.info("indexer stopped")
