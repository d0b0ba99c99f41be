"""/readyz answers for the whole pipeline: the store the API reads and the bus behind it."""

from __future__ import annotations

from pathlib import Path

from fakes import MemoryBus, MemoryStore
from fastapi.testclient import TestClient
from newsagg.api.app import create_app
from newsagg.core.settings import Settings


def readiness(store: MemoryStore, bus: MemoryBus | None, tmp_path: Path) -> tuple[int, dict]:
    app = create_app(Settings(data_dir=tmp_path), store=store, bus=bus)
    with TestClient(app) as client:
        response = client.get("/readyz")
        return response.status_code, response.json()


def test_ready_when_store_and_bus_answer(tmp_path: Path):
    assert readiness(MemoryStore(), MemoryBus(), tmp_path) == (
        200,
        {"status": "ok", "store": True, "bus": True, "articles": 0},
    )


def test_not_ready_when_the_bus_is_down(tmp_path: Path):
    bus = MemoryBus()
    bus.down = True
    status, body = readiness(MemoryStore(), bus, tmp_path)
    assert status == 503
    assert (body["store"], body["bus"]) == (True, False)


def test_not_ready_when_the_store_is_down(tmp_path: Path):
    store = MemoryStore()
    store.down = True
    status, body = readiness(store, MemoryBus(), tmp_path)
    assert status == 503
    assert (body["store"], body["bus"]) == (False, True)


def test_the_configured_bus_is_opened_on_first_check(tmp_path: Path):
    status, body = readiness(MemoryStore(), None, tmp_path)
    assert status == 200
    assert body["bus"] is True
    assert (tmp_path / "bus.sqlite").exists()
