"""/readyz: ready when the store answers searches; the bus behind it is reported alone."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from newsagg.api.app import create_app
from newsagg.core.settings import Settings
from support.fakes import MemoryBus, MemoryStore


def readiness(store: MemoryStore, bus: MemoryBus | None, tmp_path: Path) -> tuple[int, dict]:
    app = create_app(Settings(data_dir=tmp_path), store=store, bus=bus)
    with TestClient(app) as client:
        response = client.get("/readyz")
        return response.status_code, response.json()


def test_ready_when_store_and_bus_answer(tmp_path: Path):
    assert readiness(MemoryStore(), MemoryBus(), tmp_path) == (
        200,
        {
            "status": "ok",
            "store": True,
            "bus": {"ok": True, "error": None, "corrupted": False},
            "articles": 0,
        },
    )


def test_a_bus_outage_is_reported_but_searches_still_answer(tmp_path: Path):
    bus = MemoryBus()
    bus.down = True
    status, body = readiness(MemoryStore(), bus, tmp_path)
    assert status == 200
    assert (body["status"], body["store"], body["articles"]) == ("ok", True, 0)
    assert body["bus"] == {"ok": False, "error": "the bus does not answer", "corrupted": False}


def test_a_bus_that_cannot_be_opened_is_reported_with_why(tmp_path: Path):
    settings = Settings(data_dir=tmp_path, bus_url="amqp://127.0.0.1/")
    with TestClient(create_app(settings, store=MemoryStore())) as client:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["bus"]["ok"] is False
    assert "unsupported bus URL" in response.json()["bus"]["error"]


def test_not_ready_when_the_store_is_down(tmp_path: Path):
    store = MemoryStore()
    store.down = True
    status, body = readiness(store, MemoryBus(), tmp_path)
    assert status == 503
    assert (body["status"], body["store"], body["bus"]["ok"]) == ("unavailable", False, True)


def test_the_configured_bus_is_opened_on_first_check(tmp_path: Path):
    status, body = readiness(MemoryStore(), None, tmp_path)
    assert status == 200
    assert body["bus"]["ok"] is True
    assert (tmp_path / "bus.sqlite").exists()
