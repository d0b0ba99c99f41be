"""API keys: off by default; when configured every /v1 route needs one, operations stay open."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from newsagg.api.app import create_app
from newsagg.api.security import ApiKeys, hash_key, load_key_hashes
from newsagg.core.settings import Settings
from pydantic import ValidationError
from support.fakes import MemoryStore

from newsagg.cli.main import main

KEY = "nsg_test-key-one"
OTHER = "nsg_test-key-two"
PASSED = 404  # /v1/articles/missing: the request got through to the route


def client_for(**settings: object) -> Iterator[TestClient]:
    app = create_app(Settings(**settings), store=MemoryStore())
    with TestClient(app) as client:
        yield client


@pytest.fixture
def open_api() -> Iterator[TestClient]:
    yield from client_for()


@pytest.fixture
def keyed_api() -> Iterator[TestClient]:
    yield from client_for(api_keys=f"{hash_key(KEY)},{hash_key(OTHER)}")


def test_without_configured_keys_the_api_is_open(open_api: TestClient):
    assert open_api.get("/v1/articles/missing").status_code == PASSED


def test_a_request_without_a_key_is_told_what_is_missing(keyed_api: TestClient):
    response = keyed_api.get("/v1/search", params={"q": "Soman"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "X-API-Key"
    assert "X-API-Key" in response.json()["detail"]


def test_a_wrong_key_is_refused(keyed_api: TestClient):
    response = keyed_api.get("/v1/articles/missing", headers={"X-API-Key": "nsg_guess"})
    assert response.status_code == 401
    assert response.json()["detail"] == "the API key is not valid"


@pytest.mark.parametrize("key", [KEY, OTHER])
def test_each_configured_key_is_accepted(keyed_api: TestClient, key: str):
    assert keyed_api.get("/v1/articles/missing", headers={"X-API-Key": key}).status_code == PASSED


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"])
def test_operations_and_docs_stay_open(keyed_api: TestClient, path: str):
    assert keyed_api.get(path).status_code == 200


def test_the_schema_tells_clients_about_the_key(keyed_api: TestClient):
    schema = keyed_api.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["ApiKey"]["name"] == "X-API-Key"
    assert schema["paths"]["/v1/search"]["get"]["security"] == [{"ApiKey": []}]
    assert "401" in schema["paths"]["/v1/search"]["get"]["responses"]
    assert "security" not in schema["paths"]["/healthz"]["get"]


def test_keys_can_come_from_a_file(tmp_path: Path):
    keys = tmp_path / "keys.txt"
    keys.write_text(f"# editors\n{hash_key(KEY)}\n\n{hash_key(OTHER).upper()}  # partner\n")
    for client in client_for(api_keys=f"@{keys}"):
        assert client.get("/v1/articles/x", headers={"X-API-Key": OTHER}).status_code == PASSED
        assert client.get("/v1/articles/x", headers={"X-API-Key": "nope"}).status_code == 401


def test_an_unreadable_or_bad_key_file_fails_the_start(tmp_path: Path):
    with pytest.raises(ValueError, match="cannot read key file"):
        load_key_hashes(f"@{tmp_path / 'absent.txt'}")
    bad = tmp_path / "keys.txt"
    bad.write_text("not-a-hash\n")
    with pytest.raises(ValueError, match="entry 1 is not a sha256 hex hash"):
        create_app(Settings(api_keys=f"@{bad}"), store=MemoryStore())


def test_settings_refuse_a_raw_key_where_a_hash_belongs():
    with pytest.raises(ValidationError, match="sha256 hex hashes"):
        Settings(api_keys=KEY)


@pytest.mark.parametrize("where", ["inline", "file"])
def test_settings_and_a_key_file_name_the_bad_entry_alike(tmp_path: Path, where: str):
    """One validator: the environment and the key file refuse a raw key the same way."""
    entries = [hash_key(OTHER).upper(), KEY]
    if where == "inline":
        with pytest.raises(ValidationError, match="entry 2 is not a sha256 hex hash"):
            Settings(api_keys=",".join(entries))
    else:
        (tmp_path / "keys.txt").write_text("\n".join(entries) + "\n")
        with pytest.raises(ValueError, match="entry 2 is not a sha256 hex hash"):
            load_key_hashes(f"@{tmp_path / 'keys.txt'}")
    assert load_key_hashes(entries[0]) == (hash_key(OTHER),)


def test_identify_returns_the_matching_hash_only():
    keys = ApiKeys((hash_key(KEY),))
    assert keys.identify(KEY) == hash_key(KEY)
    assert keys.identify(OTHER) is None
    assert keys.identify("") is None


def test_the_cli_prints_a_key_and_its_hash(capsys: pytest.CaptureFixture[str]):
    assert main(["api-key"]) == 0
    lines = dict(line.split(":", 1) for line in capsys.readouterr().out.splitlines()[:2])
    key, digest = lines["key"].strip(), lines["hash"].strip()
    assert len(key) > 40
    assert digest == hash_key(key)
    assert Settings(api_keys=digest).api_keys == digest
