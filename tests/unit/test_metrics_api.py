"""The API's metrics: route templates (never raw paths), search timing by sort and facets,
refusals by the rate limit and the key check, and a /metrics with the API's series only."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from newsagg.api.app import create_app
from newsagg.api.metrics import REGISTRY
from newsagg.api.security import hash_key
from newsagg.core.adapters import open_store
from newsagg.core.article import Article
from newsagg.core.settings import Settings
from support.fakes import MemoryStore


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    url = f"tantivy:///{tmp_path_factory.mktemp('api-metrics') / 'index'}"
    writer = open_store(url, writable=True)
    writer.ensure_schema()
    writer.upsert(
        [
            Article.create(
                url="https://news.example/cycling",
                source="marquee",
                title="Milind Soman cycles north",
                text="A roadside romance, 150 km a day.",
                published_at=datetime(2026, 9, 6, tzinfo=UTC),
                date_source="meta",
            )
        ]
    )
    writer.close()
    with TestClient(create_app(Settings(), store=open_store(url, writable=False))) as client:
        yield client


@pytest.mark.parametrize(
    ("path", "route", "status"),
    [
        ("/", "/", "200"),
        ("/static/search.css", "static", "200"),
        ("/static/missing.js", "static", "404"),
        ("/v1/search?q=Soman", "/v1/search", "200"),
        ("/v1/articles/nope", "/v1/articles/{article_id}", "404"),
        ("/no/such/page", "unmatched", "404"),
    ],
)
def test_requests_are_counted_by_route_template_and_status(
    api: TestClient, path: str, route: str, status: str
):
    before = sample("newsagg_api_requests_total", route=route, status=status)
    timed = sample("newsagg_api_request_duration_seconds_count", route=route)
    assert str(api.get(path).status_code) == status
    assert sample("newsagg_api_requests_total", route=route, status=status) == before + 1
    assert sample("newsagg_api_request_duration_seconds_count", route=route) == timed + 1


@pytest.mark.parametrize(
    ("params", "sort", "facets"),
    [
        ({"q": "Soman"}, "relevance", "true"),
        ({"q": "Soman", "sort": "date", "facets": ""}, "date", "false"),
    ],
)
def test_searches_are_timed_by_sort_and_facets(
    api: TestClient, params: dict[str, str], sort: str, facets: str
):
    name = "newsagg_api_search_duration_seconds_count"
    before = sample(name, sort=sort, facets=facets)
    response = api.get("/v1/search", params=params)
    assert response.status_code == 200
    assert response.json()["total"] == 1
    assert sample(name, sort=sort, facets=facets) == before + 1


def test_rate_limited_and_unauthorised_requests_are_counted():
    settings = Settings(api_rate_limit=0.001, api_rate_burst=1, api_keys=hash_key("nsg_k"))
    limited, failed = (
        sample("newsagg_api_rate_limited_total"),
        sample("newsagg_api_auth_failures_total"),
    )
    with TestClient(create_app(settings, store=MemoryStore())) as client:
        assert client.get("/v1/articles/x").status_code == 401
        assert client.get("/v1/articles/x", headers={"X-API-Key": "nsg_k"}).status_code == 404
        assert client.get("/v1/articles/x", headers={"X-API-Key": "nsg_k"}).status_code == 429
    assert sample("newsagg_api_auth_failures_total") == failed + 1
    assert sample("newsagg_api_rate_limited_total") == limited + 1


def test_metrics_show_the_api_series_and_no_other_service_s(api: TestClient, tmp_path: Path):
    # defined in this process too, yet not served by the API
    importlib.import_module("newsagg.crawler.metrics")
    importlib.import_module("newsagg.indexer.metrics")

    api.get("/v1/search", params={"q": "Soman"})
    text = api.get("/metrics").text
    names = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1] != "#"}
    ours = {name for name in names if name.startswith("newsagg_")}
    assert "newsagg_api_requests_total" in ours
    assert "newsagg_api_search_duration_seconds_bucket" in ours
    assert all(name.startswith("newsagg_api_") for name in ours), ours
    assert "process_resident_memory_bytes" in names
