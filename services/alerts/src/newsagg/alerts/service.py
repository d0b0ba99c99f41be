"""Wiring of `newsagg alerts`: settings -> bus, stores, matcher, the matching loop and the
delivery thread; SIGTERM/SIGINT stop both cleanly.

Damaged data (DataCorrupted) stops the worker for good, from either loop: it is logged
with the repair and raised, so `newsagg alerts` exits with its own code and the
supervisor does not restart it into the same damage.
"""

from __future__ import annotations

import logging
import threading

from newsagg.alerts.delivery import Deliverer
from newsagg.alerts.metrics import REGISTRY
from newsagg.alerts.worker import MatchingWorker
from newsagg.core.adapters import open_alert_store, open_bus, open_matcher, open_store
from newsagg.core.consuming import join_group, stop_on_signals
from newsagg.core.logs import configure_logging
from newsagg.core.metrics import serve_metrics
from newsagg.core.ports import (
    ARTICLES_TOPIC,
    DataCorrupted,
    IndexOutdated,
)
from newsagg.core.settings import Settings

log = logging.getLogger("newsagg.alerts")


def run_alerts(settings: Settings) -> None:
    if settings.alerts_shard >= settings.alerts_shards:
        raise ValueError(
            f"NEWSAGG_ALERTS_SHARD={settings.alerts_shard} must be below "
            f"NEWSAGG_ALERTS_SHARDS={settings.alerts_shards}"
        )
    configure_logging(settings.log_level, settings.log_format, "alerts")
    serve_metrics(
        REGISTRY, settings.metrics_host, settings.alerts_metrics_port, "NEWSAGG_ALERTS_METRICS_PORT"
    )
    stop = stop_on_signals(log)
    try:
        _run(settings, stop)
    except DataCorrupted as exc:
        log.error("stopping, damaged data cannot be retried away: %s", exc)
        raise
    except IndexOutdated as exc:
        log.error("stopping, this index cannot be matched against: %s", exc)
        raise


def _run(settings: Settings, stop: threading.Event) -> None:
    bus = open_bus(settings.resolved_bus_url, settings)
    store = open_store(settings.resolved_store_url, writable=False, settings=settings)
    alerts = open_alert_store(settings.resolved_alerts_url, settings)
    matcher = open_matcher(store)
    # One reader for both loops: an article the matching loop saw stored, the delivery
    # loop sees too (a reader of its own could lag behind by its reload interval).
    deliverer = Deliverer(alerts, store, settings, stop=stop)
    failure: list[BaseException] = []

    def deliver() -> None:
        try:
            deliverer.run()
        except BaseException as exc:  # handed to the main thread, which raises it
            failure.append(exc)
            stop.set()

    consumer = join_group(
        bus,
        ARTICLES_TOPIC,
        settings.alerts_group,
        stop=stop,
        max_delay=settings.indexer_max_retry_delay,
        log=log,
    )
    thread = threading.Thread(target=deliver, name="alerts-delivery", daemon=True)
    try:
        if consumer is None:
            return
        thread.start()
        log.info(
            "matching %s against the saved searches in %s; delivering shard %d of %d",
            settings.resolved_bus_url,
            settings.resolved_alerts_url,
            settings.alerts_shard,
            settings.alerts_shards,
        )
        MatchingWorker(
            bus,
            consumer,
            store,
            alerts,
            matcher,
            batch_size=settings.alerts_batch_size,
            batch_wait=settings.alerts_batch_wait,
            max_retry_delay=settings.indexer_max_retry_delay,
            group=settings.alerts_group,
            indexer_group=settings.indexer_group,
            stop=stop,
            on_matched=deliverer.wake,
        ).run()
    finally:
        stop.set()
        if thread.is_alive():
            thread.join()
        if consumer is not None:
            consumer.close()
        matcher.close()
        for closing in (alerts, store, bus):
            closing.close()
        log.info("alerts worker stopped")
    if failure:
        raise failure[0]
