"""Saved searches on Elasticsearch: crawl, index, alerts and api as processes with the
store and the alert store on a real node (the alert store's indices beside the articles',
the matcher's _msearch against the live index), delivering to a receiver on 127.0.0.1
that checks every signature. Each saved search gets exactly what the same search finds,
and the worker killed with -9 mid-stream sends nothing twice."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from newsagg.core.adapters import open_alert_store
from newsagg.core.alerts.model import SavedSearch
from newsagg.core.settings import Settings
from support.alert_deliveries import (
    DELIVERY_TIMEOUT,
    SEARCHES,
    WORKER_ENV,
    accepted_ids,
    assert_exactly_once,
    found_by_search,
)
from support.pipeline import Pipeline, indexed_pipeline, pipeline_env
from support.servers import Service, wait_until
from support.webhook_receiver import WebhookReceiver, webhook_receiver

from newsagg.cli.demo_site import DemoSites

pytestmark = pytest.mark.e2e


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as running:
        yield running


def test_saved_searches_on_elasticsearch_get_what_the_same_search_finds(
    tmp_path: Path,
    demo_site: DemoSites,
    manifest: dict,
    elasticsearch_url: str,
    receiver: WebhookReceiver,
):
    suffix = uuid.uuid4().hex[:8]
    extra = {
        **WORKER_ENV,
        "NEWSAGG_STORE_INDEX": f"test-e2e-{suffix}",
        "NEWSAGG_ALERTS_INDEX": f"test-e2e-alerts-{suffix}",
        "NEWSAGG_ALERTS_BATCH_SIZE": "5",  # many batches: the kill lands mid-stream
    }
    env = pipeline_env(
        tmp_path / "data",
        sources=demo_site.sources_yaml(),
        store_url=elasticsearch_url,
        extra=extra,
    )
    alerts = open_alert_store(
        elasticsearch_url, Settings(alerts_index=extra["NEWSAGG_ALERTS_INDEX"])
    )
    alerts.ensure_schema()
    searches = {}
    for name, (q, filters) in SEARCHES.items():
        search = SavedSearch(name=name, q=q, filters=filters, webhook_url=receiver.url)
        alerts.create(search)
        receiver.secrets[search.id] = search.secret
        searches[name] = search
    running = Pipeline(env, tmp_path, commands=("crawl", "index", "alerts", "api"))
    worker = running.services["alerts"]
    try:
        wait_until(
            lambda: re.search(r"saved searches: [1-9]\d* new matches", worker.log()),
            180,
            "a first batch matched",
        )
        worker.kill9()
        running.services["alerts"] = Service(["alerts"], env, tmp_path)
        with indexed_pipeline(running, manifest["article_count"]):
            expected = found_by_search(running)
            for name, search in searches.items():
                wait_until(
                    lambda s=search, n=name: accepted_ids(receiver, s.id) == expected[n],
                    DELIVERY_TIMEOUT,
                    f"the {name} search's articles delivered",
                )
            assert_exactly_once(receiver, searches, expected)
    finally:
        running.stop()
        alerts.close()
