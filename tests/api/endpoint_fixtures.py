"""The API over each store, both loaded with the same corpus: Marquee Daily's stories.

The stories are spread over three sources and two languages, and six of them share one
publication second, so filters have something to leave out and cursors must order ties.
Each store gets one app per test module (indexing is the slow part); the tests only read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from newsagg.api.app import create_app
from newsagg.core.article import Article
from newsagg.core.settings import Settings
from support.demo_corpus import MANIFEST, demo_corpus
from support.stores import STORE_ADAPTERS, store_pair

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


@pytest.fixture(name="api", scope="module", params=STORE_ADAPTERS)
def api_fixture(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    root = tmp_path_factory.mktemp(f"api-{request.param}")
    (root / "sources.yaml").write_text(SOURCES_YAML)
    corpus = endpoint_corpus()
    stores = store_pair(request.param, root, request, "test-api")
    try:
        outlet = MANIFEST["outlets"]["marquee-daily"]
        assert stores.writer.upsert(corpus).written == len(corpus) == outlet["article_count"]
        settings = Settings(data_dir=root, sources=root / "sources.yaml")
        with TestClient(create_app(settings, store=stores.open_reader())) as client:
            yield Api(client, corpus, request.param)
    finally:
        stores.close()
