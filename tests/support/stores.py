"""The adapters every port is tested on, and a fresh store of each kind.

Kafka and Elasticsearch are fetched with `request.getfixturevalue` (only when their
parameter runs), so their parameters carry the `jvm` mark themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from newsagg.core.adapters import open_store
from newsagg.core.ports import SearchStore
from newsagg.core.settings import Settings

BUS_ADAPTERS = ["sqlite", pytest.param("kafka", marks=pytest.mark.jvm)]
STORE_ADAPTERS = ["tantivy", pytest.param("elasticsearch", marks=pytest.mark.jvm)]


def bus_url_for(kind: str, root: Path, request: pytest.FixtureRequest) -> str:
    """The URL of an empty SQLite log under `root`, or of the session's Kafka broker."""
    if kind == "sqlite":
        return f"sqlite:///{root / 'bus.sqlite'}"
    if kind == "kafka":
        return request.getfixturevalue("kafka_url")
    raise AssertionError(kind)


class StorePair:
    """The writer (indexer) and a separate reader (API) over the same, fresh index."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.url = url
        self.settings = settings
        self.writer = open_store(url, writable=True, settings=settings)
        self.writer.ensure_schema()

    def open_reader(self) -> SearchStore:
        return open_store(self.url, writable=False, settings=self.settings)

    def close(self) -> None:
        """Close the writer; an Elasticsearch index is dropped, since tests share the node."""
        drop: Callable[[], None] | None = getattr(self.writer, "drop", None)
        if drop is not None:
            drop()
        self.writer.close()


def store_pair(kind: str, root: Path, request: pytest.FixtureRequest, name: str) -> StorePair:
    """A fresh store of `kind`: a tantivy index under `root`, or an Elasticsearch index
    named `name-<random>` on the session's node."""
    if kind == "tantivy":
        return StorePair(f"tantivy:///{root / 'index'}", Settings())
    if kind == "elasticsearch":
        url = request.getfixturevalue("elasticsearch_url")
        return StorePair(url, Settings(store_index=f"{name}-{uuid.uuid4().hex[:12]}"))
    raise AssertionError(kind)
