"""Adapters under contract. Each port's suite runs on every adapter in support.stores."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from newsagg.core.ports import Bus
from support.stores import BUS_ADAPTERS, STORE_ADAPTERS, StorePair, bus_url_for, store_pair


@pytest.fixture
def topic() -> str:
    """A fresh topic per test, so tests can share a broker."""
    return f"contract-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=BUS_ADAPTERS)
def bus_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return bus_url_for(request.param, tmp_path, request)


@pytest.fixture
def open_bus_fn(bus_url: str) -> Callable[[], Bus]:
    from newsagg.core.adapters import open_bus

    return lambda: open_bus(bus_url)


@pytest.fixture
def bus(open_bus_fn: Callable[[], Bus]) -> Iterator[Bus]:
    bus = open_bus_fn()
    yield bus
    bus.close()


@pytest.fixture(params=STORE_ADAPTERS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StorePair]:
    pair = store_pair(request.param, tmp_path, request, "test-contract")
    yield pair
    pair.close()
