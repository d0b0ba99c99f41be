"""A client generated from our OpenAPI schema by openapi-python-client works as published.

The client is generated in the test (offline, no post-hooks) from the app's own schema, so a
schema change that breaks generated clients fails here, not at a consumer's.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from fastapi.testclient import TestClient
from newsagg.api.app import create_app
from newsagg.api.security import hash_key
from newsagg.core.settings import Settings
from support.demo_corpus import demo_store

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "newsagg_generated_client"
KEY = "nsg_generated-client-key"
QUERY = "Soman"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    store = demo_store(tmp_path_factory.mktemp("client-index") / "index")
    app = create_app(Settings(api_keys=hash_key(KEY)), store=store)
    with TestClient(app, base_url="http://testserver") as client:
        yield client


@pytest.fixture(scope="module")
def generated(api: TestClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    work = tmp_path_factory.mktemp("client")
    (work / "openapi.json").write_text(json.dumps(api.get("/openapi.json").json()))
    (work / "config.yaml").write_text(f"package_name_override: {PACKAGE}\npost_hooks: []\n")
    subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(work / "openapi.json"),
            "--output-path",
            str(work / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(work / "config.yaml"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    sys.path.insert(0, str(work))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(work))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def operation(package: ModuleType, group: str, suffix: str) -> ModuleType:
    """The generated module of one operation (its name comes from the route's operation id)."""
    api_group = importlib.import_module(f"{package.__name__}.api.{group}")
    name = next(m.name for m in pkgutil.iter_modules(api_group.__path__) if m.name.endswith(suffix))
    return importlib.import_module(f"{api_group.__name__}.{name}")


def client_for(generated: ModuleType, api: TestClient, key: str) -> object:
    """The generated client, sending its requests (with this key) to the in-process app."""
    client = generated.Client(base_url=str(api.base_url))
    client.set_httpx_client(TestClient(api.app, headers={"X-API-Key": key}))
    return client


def test_the_generated_client_pages_through_every_hit(generated: ModuleType, api: TestClient):
    search = operation(generated, "search", "_v1_search_get")
    client = client_for(generated, api, KEY)
    everything = search.sync(client=client, q=QUERY, size=100)
    assert 3 < everything.total <= 100
    expected = [hit.id for hit in everything.hits]

    seen: list[str] = []
    page = search.sync(client=client, q=QUERY, size=3)
    while True:
        assert page.total == everything.total
        seen += [hit.id for hit in page.hits]
        if not isinstance(page.next_cursor, str):
            break
        page = search.sync(client=client, q=QUERY, size=3, cursor=page.next_cursor)
    assert seen == expected


def test_the_generated_client_can_page_by_offset_too(generated: ModuleType, api: TestClient):
    search = operation(generated, "search", "_v1_search_get")
    client = client_for(generated, api, KEY)
    expected = [hit.id for hit in search.sync(client=client, q=QUERY, size=100).hits]
    seen: list[str] = []
    while page := search.sync(client=client, q=QUERY, size=3, offset=len(seen)).hits:
        seen += [hit.id for hit in page]
    assert seen == expected


def test_the_generated_client_reads_one_article(generated: ModuleType, api: TestClient):
    search = operation(generated, "search", "_v1_search_get")
    get_article = operation(generated, "articles", "_v1_articles_article_id_get")
    client = client_for(generated, api, KEY)
    top = search.sync(client=client, q="Milind Soman cycling", size=1).hits[0]
    article = get_article.sync(client=client, article_id=top.id)
    assert article.title == top.title
    assert "roadside" in article.text.lower()
    assert (article.revision, article.quality) == (top.revision, top.quality) == (1, "ok")


def test_the_generated_client_reads_an_article_s_revisions(generated: ModuleType, api: TestClient):
    search = operation(generated, "search", "_v1_search_get")
    revisions = operation(generated, "articles", "_revisions_get")
    client = client_for(generated, api, KEY)
    top = search.sync(client=client, q="Milind Soman cycling", size=1).hits[0]
    history = revisions.sync(client=client, article_id=top.id)
    assert (history.id, history.revision, history.last_change) == (top.id, 1, None)
    assert [r.title for r in history.revisions] == [top.title]
    missing = revisions.sync_detailed(client=client, article_id="0" * 32)
    assert missing.status_code == 404
    assert missing.parsed.title == "Not found"


def test_the_generated_client_sees_errors_as_problems(generated: ModuleType, api: TestClient):
    search = operation(generated, "search", "_v1_search_get")
    response = search.sync_detailed(client=client_for(generated, api, KEY), q='"unclosed')
    assert response.status_code == 400
    assert "unbalanced quote" in response.parsed.detail
    refused = search.sync_detailed(client=client_for(generated, api, "nsg_wrong"), q=QUERY)
    assert refused.status_code == 401
    assert refused.parsed.title == "Unauthorized"
