"""A real Apache Kafka broker for the tests: deploy/local/launch.py, or NEWSAGG_TEST_KAFKA_URL.

The broker is started once per session, on first use, and only by tests that ask
for it; the Maven fetch is cached under .cache/local, so only a fresh clone downloads.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

LAUNCHER = Path(__file__).resolve().parents[1] / "deploy" / "local" / "launch.py"


def local_servers() -> ModuleType:
    """deploy/local/launch.py is stdlib-only and not a package: load it by path."""
    name = "newsagg_local"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, LAUNCHER)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def start_kafka() -> object:
    """A private single-node broker (tests that restart it must not share it)."""
    return local_servers().LocalKafka(startup_timeout=180).start()


@pytest.fixture(scope="session")
def kafka_url() -> Iterator[str]:
    """kafka://host:port of a running broker shared by the session."""
    given = os.environ.get("NEWSAGG_TEST_KAFKA_URL")
    if given:
        yield given
        return
    broker = start_kafka()
    try:
        yield broker.url
    finally:
        broker.close()


@pytest.fixture
def private_kafka() -> Iterator[object]:
    """A broker of the test's own, for tests that restart it or need an empty `articles`."""
    broker = start_kafka()
    try:
        yield broker
    finally:
        broker.close()
