"""Adapters under contract. Each port's suite runs on every adapter listed here."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.ports import Bus, SearchStore

BUS_ADAPTERS = ["sqlite", "kafka"]
STORE_ADAPTERS = ["tantivy", "elasticsearch"]


@pytest.fixture
def topic() -> str:
    """A fresh topic per test, so tests can share a broker."""
    return f"contract-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=BUS_ADAPTERS)
def bus_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bus.sqlite'}"
    if request.param == "kafka":
        return request.getfixturevalue("kafka_url")
    raise AssertionError(request.param)


@pytest.fixture
def open_bus_fn(bus_url: str) -> Callable[[], Bus]:
    from newsagg.core.adapters import open_bus

    return lambda: open_bus(bus_url)


@pytest.fixture
def bus(open_bus_fn: Callable[[], Bus]) -> Iterator[Bus]:
    bus = open_bus_fn()
    yield bus
    bus.close()


class StorePair:
    """The writer (indexer) and a separate reader (API) over the same index."""

    def __init__(self, writer: SearchStore, open_reader: Callable[[], SearchStore]) -> None:
        self.writer = writer
        self.open_reader = open_reader


@pytest.fixture(params=STORE_ADAPTERS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StorePair]:
    if request.param == "tantivy":
        writer = TantivyStore(tmp_path / "index", writable=True)
        writer.ensure_schema()
        yield StorePair(writer, lambda: TantivyStore(tmp_path / "index", writable=False))
        writer.close()
        return
    if request.param == "elasticsearch":
        from newsagg.core.adapters import open_store
        from newsagg.core.settings import Settings

        url = request.getfixturevalue("elasticsearch_url")
        settings = Settings(store_index=request.getfixturevalue("es_prefix"))
        writer = open_store(url, writable=True, settings=settings)
        writer.ensure_schema()
        yield StorePair(writer, lambda: open_store(url, writable=False, settings=settings))
        writer.drop()  # type: ignore[attr-defined]
        writer.close()
        return
    raise AssertionError(request.param)
