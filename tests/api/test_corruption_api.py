"""A damaged index makes /readyz fail and the search endpoints answer 503, naming the
damaged file and the repair command; never a 200 with 0 articles or a bare 500. A damaged
bus is named in /readyz's body the same way, but searches still answer, so it is ready."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from newsagg.api.app import create_app
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.settings import Settings
from support.damage import filled_index, garbage, segment_file
from support.fakes import MemoryBus


def damaged_index(tmp_path: Path) -> TantivyStore:
    index = filled_index(tmp_path / "index")
    garbage(segment_file(index, "term"), 0, 1024)
    return TantivyStore(index, writable=False)


def test_readyz_fails_on_a_damaged_index_and_names_the_repair(tmp_path: Path):
    app = create_app(Settings(data_dir=tmp_path), store=damaged_index(tmp_path), bus=MemoryBus())
    with TestClient(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["title"] == "Data corrupted"
    assert (body["corrupted"], body["store"], body["bus"]["ok"]) == ("store", False, True)
    assert body["path"].endswith(".term")
    assert "newsagg repair --index" in body["remedy"]
    assert "Retry-After" not in response.headers


def test_a_zero_byte_bus_is_reported_with_its_repair_and_searches_still_answer(tmp_path: Path):
    (tmp_path / "bus.sqlite").write_bytes(b"")
    store = TantivyStore(filled_index(tmp_path / "index"), writable=False)
    app = create_app(Settings(data_dir=tmp_path), store=store, bus=None)
    with TestClient(app) as client:
        response = client.get("/readyz")
        search = client.get("/v1/search?q=story")
    assert response.status_code == 200
    bus = response.json()["bus"]
    assert (bus["ok"], bus["corrupted"]) == (False, True)
    assert "zero bytes" in bus["error"]
    assert "newsagg repair --bus" in bus["error"]
    assert search.status_code == 200
    assert search.json()["total"] > 0
    assert (tmp_path / "bus.sqlite").stat().st_size == 0


@pytest.mark.parametrize(
    "path", ["/v1/search?q=story", "/v1/export?q=story", "/v1/timeline", "/v1/sources"]
)
def test_search_endpoints_answer_503_not_500_on_a_damaged_index(tmp_path: Path, path: str):
    app = create_app(Settings(data_dir=tmp_path), store=damaged_index(tmp_path), bus=MemoryBus())
    with TestClient(app) as client:
        response = client.get(path)
    assert response.status_code == 503
    assert response.json()["title"] == "Data corrupted"
    assert "newsagg repair --index" in response.json()["detail"]
