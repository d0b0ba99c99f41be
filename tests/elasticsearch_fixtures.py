"""A real Elasticsearch node for the tests: started once per session, or given by URL.

`NEWSAGG_TEST_ES_URL=http://host:9200` uses a running node; otherwise the node is
fetched from Maven Central (cached under .cache/) and started by deploy/local/launch.py.
Tests share the node and isolate themselves by index prefix (`es_prefix`).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

LAUNCH = Path(__file__).resolve().parents[1] / "deploy" / "local" / "launch.py"


def load_launcher() -> ModuleType:
    """deploy/local/launch.py is a stdlib script, not a package: load it by path."""
    if "newsagg_local" in sys.modules:
        return sys.modules["newsagg_local"]
    spec = importlib.util.spec_from_file_location("newsagg_local", LAUNCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def elasticsearch_node() -> Iterator[Any | None]:
    """The LocalElasticsearch this session started, or None when NEWSAGG_TEST_ES_URL is set."""
    if os.environ.get("NEWSAGG_TEST_ES_URL"):
        yield None
        return
    node = load_launcher().LocalElasticsearch().start()
    yield node
    node.close()


@pytest.fixture(scope="session")
def elasticsearch_url(elasticsearch_node: Any | None) -> str:
    return os.environ.get("NEWSAGG_TEST_ES_URL") or elasticsearch_node.url


@pytest.fixture
def es_prefix() -> str:
    """A fresh index prefix (read alias) per test, so tests can share one node."""
    return f"test-{uuid.uuid4().hex[:12]}"
