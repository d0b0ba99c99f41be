"""The search page's files as the API serves them: no build step, and a strict CSP."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from newsagg.api.app import create_app
from newsagg.api.security import hash_key
from newsagg.core.settings import Settings
from support.fakes import MemoryStore


@pytest.fixture
def client() -> Iterator[TestClient]:
    # With keys on: the page itself and its files must stay open, only /v1 needs a key.
    settings = Settings(api_keys=hash_key("nsg_page-test"))
    with TestClient(create_app(settings, store=MemoryStore())) as client:
        yield client


def test_the_page_is_served_at_the_root_with_a_strict_policy(client: TestClient):
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert client.head("/").status_code == 200


def test_every_file_the_page_names_is_served_from_this_origin(client: TestClient):
    html = client.get("/").text
    assets = re.findall(r'(?:src|href)="(static/[^"]+)"', html)
    assert {"static/search.js", "static/search.css"} <= set(assets)
    for asset in assets:
        response = client.get(f"/{asset}")
        assert response.status_code == 200, asset
        assert "content-security-policy" in response.headers
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html), "no third-party assets"


def test_the_page_is_not_part_of_the_api_schema(client: TestClient):
    paths = client.get("/openapi.json").json()["paths"]
    assert "/" not in paths
    api = ("/v1", "/feeds/", "/healthz", "/readyz", "/metrics")  # /feeds/: saved-search feeds
    assert all(path.startswith(api) for path in paths)


def test_the_api_documentation_needs_no_cdn(client: TestClient):
    html = client.get("/docs").text
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert scripts
    assert all(not s.startswith(("http:", "https:", "//")) for s in scripts)
    assert all(client.get(s).status_code == 200 for s in scripts)
