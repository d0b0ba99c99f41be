"""The API over each store, both loaded with the same corpus: the demo site's 36 stories.

The stories are spread over three sources and two languages, and six of them share one
publication second, so filters have something to leave out and cursors must order ties.
Each store gets one app per test module (indexing is the slow part); the tests only read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from contract.test_relevance_parity import demo_corpus
from fastapi.testclient import TestClient
from newsagg.api.app import create_app
from newsagg.core.adapters.elasticsearch_store import ElasticsearchStore
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.article import Article
from newsagg.core.ports import SearchStore
from newsagg.core.settings import Settings

STORE_ADAPTERS = ["tantivy", "elasticsearch"]
SHARED_SECOND = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
CONFIGURED = ("marquee-daily", "quiet-times")
SOURCES_YAML = """\
sources:
  - name: marquee-daily
    feeds: [https://marquee.example/rss.xml]
  - name: quiet-times
    feeds: [https://quiet.example/rss.xml]
"""


def endpoint_corpus() -> list[Article]:
    varied = []
    for i, article in enumerate(demo_corpus()):
        update: dict[str, object] = {}
        if i % 3 == 1:
            update["source"] = "reel-news"
        if i % 6 == 5:
            update["language"] = "hi"
        if 10 <= i < 16:
            update["published_at"] = SHARED_SECOND
        varied.append(article.model_copy(update=update))
    return varied


@dataclass
class Api:
    client: TestClient
    corpus: list[Article]
    store: str


def _stores(
    kind: str, root: Path, request: pytest.FixtureRequest
) -> tuple[SearchStore, SearchStore]:
    """(writer, reader) of a fresh, empty store."""
    if kind == "tantivy":
        writer = TantivyStore(root / "index", writable=True)
        writer.ensure_schema()
        return writer, TantivyStore(root / "index", writable=False)
    url = request.getfixturevalue("elasticsearch_url")
    settings = Settings(store_index=f"test-api-{uuid.uuid4().hex[:12]}")
    writer = ElasticsearchStore.from_url(url, settings)
    writer.ensure_schema()
    return writer, ElasticsearchStore.from_url(url, settings)


@pytest.fixture(name="api", scope="module", params=STORE_ADAPTERS)
def api_fixture(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    root = tmp_path_factory.mktemp(f"api-{request.param}")
    (root / "sources.yaml").write_text(SOURCES_YAML)
    corpus = endpoint_corpus()
    writer, reader = _stores(request.param, root, request)
    assert writer.upsert(corpus).written == len(corpus) == 36
    settings = Settings(data_dir=root, sources=root / "sources.yaml")
    try:
        with TestClient(create_app(settings, store=reader)) as client:
            yield Api(client, corpus, request.param)
    finally:
        if isinstance(writer, ElasticsearchStore):
            writer.drop()
        writer.close()
