"""GET /v1/timeline?spike=true: the spike rule of the saved searches on the timeline's query,
over a tantivy store holding articles published at chosen hours before the real clock (the
route judges against now)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from newsagg.api.app import create_app
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.alerts.spikes import BASELINE_DAYS, RULE
from newsagg.core.settings import Settings
from support.spike_corpus import BURST, PER_DAY, SPIKING, STEADY, spike_articles


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("timeline-spike")
    store = TantivyStore(root / "index", writable=True)
    store.ensure_schema()
    articles = spike_articles(datetime.now(UTC))
    assert store.upsert(articles).written == len(articles)
    try:
        with TestClient(create_app(Settings(data_dir=root), store=store)) as client:
            yield client
    finally:
        store.close()


def _timeline(client: TestClient, **params: str) -> dict:
    response = client.get("/v1/timeline", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_burst_is_a_spike_with_its_figures(client: TestClient):
    timeline = _timeline(client, q=SPIKING, spike="true", interval="hour")

    spike = timeline["spike"]
    assert spike["spike"] is True
    assert spike["last_24h"] == BURST
    assert spike["baseline_hours"] == BASELINE_DAYS * 24
    assert spike["baseline_daily_mean"] == pytest.approx(PER_DAY)
    assert spike["threshold"] == 7  # 3 x 2 = 6, and 2 + 3 x sqrt(2) = 6.24: above it is 7
    assert spike["rule"] == RULE
    assert sum(b["count"] for b in spike["hours"]) == BASELINE_DAYS * PER_DAY + BURST
    assert timeline["total"] == BASELINE_DAYS * PER_DAY + BURST  # the buckets are as before
    assert sum(b["count"] for b in timeline["buckets"]) == timeline["total"]


def test_steady_coverage_is_no_spike(client: TestClient):
    spike = _timeline(client, q=STEADY, spike="true")["spike"]

    assert spike["spike"] is False
    assert spike["last_24h"] == PER_DAY
    assert spike["baseline_daily_mean"] == pytest.approx(PER_DAY)
    assert spike["threshold"] == 7


def test_the_filters_apply_to_the_spike_too(client: TestClient):
    spike = _timeline(client, q=SPIKING, sources="another-daily", spike="true")["spike"]

    assert (spike["spike"], spike["last_24h"], spike["baseline_daily_mean"]) == (False, 0, 0)


def test_without_spike_true_there_is_no_spike(client: TestClient):
    assert _timeline(client, q=SPIKING).get("spike") is None
    assert _timeline(client, q=SPIKING, spike="false").get("spike") is None
