"""A real Elasticsearch node for the tests: started once per session, or given by URL.

`NEWSAGG_TEST_ES_URL=http://host:9200` uses a running node; otherwise the node is
fetched from Maven Central (cached under .cache/) and started by deploy/local/launch.py.
Tests share the node and isolate themselves by index prefix (`es_prefix`). Tests that
use these fixtures are marked `jvm` by tests/conftest.py.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from support.launcher import start_elasticsearch


@pytest.fixture(scope="session")
def elasticsearch_node() -> Iterator[Any | None]:
    """The LocalElasticsearch this session started, or None when NEWSAGG_TEST_ES_URL is set."""
    if os.environ.get("NEWSAGG_TEST_ES_URL"):
        yield None
        return
    node = start_elasticsearch()
    yield node
    node.close()


@pytest.fixture(scope="session")
def elasticsearch_url(elasticsearch_node: Any | None) -> str:
    return os.environ.get("NEWSAGG_TEST_ES_URL") or elasticsearch_node.url


@pytest.fixture
def es_prefix() -> str:
    """A fresh index prefix (read alias) per test, so tests can share one node."""
    return f"test-{uuid.uuid4().hex[:12]}"
