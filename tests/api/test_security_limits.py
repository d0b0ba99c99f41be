"""Rate limit per key or IP, CORS for configured origins, bounds on query parameters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from newsagg.api.app import create_app
from newsagg.api.limits import MAX_PARAMETERS, MAX_QUERY_STRING_BYTES, MAX_REPEATS
from newsagg.api.ratelimit import TokenBuckets
from newsagg.api.security import hash_key
from newsagg.core.settings import Settings
from pydantic import ValidationError
from support.fakes import MemoryStore

PASSED = 404  # /v1/articles/missing: the request got through to the route


def client_for(**settings: object) -> Iterator[TestClient]:
    app = create_app(Settings(**settings), store=MemoryStore())
    with TestClient(app) as client:
        yield client


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_the_burst_then_refills_at_the_rate():
    clock = Clock()
    buckets = TokenBuckets(rate=2, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("a") == pytest.approx(0.5)
    assert buckets.take("b") == 0  # someone else has their own bucket
    clock.now += 0.5
    assert buckets.take("a") == 0
    assert buckets.take("a") > 0
    clock.now += 60  # refills to the burst, not beyond
    assert [buckets.take("a") for _ in range(4)][-1] > 0


def test_over_the_burst_the_answer_is_429_with_retry_after():
    for client in client_for(api_rate_limit=0.5, api_rate_burst=2):
        assert [client.get("/v1/articles/missing").status_code for _ in range(2)] == [PASSED] * 2
        response = client.get("/v1/articles/missing")
        assert response.status_code == 429
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "2"
        assert client.get("/healthz").status_code == 200  # probes are never limited


def test_each_api_key_has_its_own_bucket():
    keys = {"a": "nsg_key-a", "b": "nsg_key-b"}
    hashes = ",".join(hash_key(key) for key in keys.values())
    for client in client_for(api_keys=hashes, api_rate_limit=1, api_rate_burst=1):
        first = {"X-API-Key": keys["a"]}
        assert client.get("/v1/articles/x", headers=first).status_code == PASSED
        assert client.get("/v1/articles/x", headers=first).status_code == 429
        assert client.get("/v1/articles/x", headers={"X-API-Key": keys["b"]}).status_code == PASSED


@pytest.fixture
def cors_api() -> Iterator[TestClient]:
    yield from client_for(api_cors_origins="https://editor.example.com, http://localhost:3000")


def preflight(client: TestClient, origin: str):
    return client.options(
        "/v1/search",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "X-API-Key",
        },
    )


def test_a_preflight_from_an_allowed_origin_is_granted(cors_api: TestClient):
    response = preflight(cors_api, "https://editor.example.com")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://editor.example.com"
    assert "x-api-key" in response.headers["access-control-allow-headers"].lower()
    simple = cors_api.get("/healthz", headers={"Origin": "http://localhost:3000"})
    assert simple.headers["access-control-allow-origin"] == "http://localhost:3000"


def test_a_preflight_from_another_origin_is_refused(cors_api: TestClient):
    response = preflight(cors_api, "https://evil.example.net")
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_without_configured_origins_there_are_no_cors_headers():
    for client in client_for():
        response = client.get("/healthz", headers={"Origin": "https://editor.example.com"})
        assert "access-control-allow-origin" not in response.headers


def test_settings_refuse_an_origin_that_is_not_one():
    with pytest.raises(ValidationError, match="not an origin"):
        Settings(api_cors_origins="editor.example.com/path")


@pytest.fixture
def api() -> Iterator[TestClient]:
    yield from client_for()


def test_too_many_parameters_are_refused(api: TestClient):
    params = [(f"p{n}", "x") for n in range(MAX_PARAMETERS + 1)]
    response = api.get("/v1/search", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert f"at most {MAX_PARAMETERS}" in response.json()["detail"]


def test_a_parameter_repeated_too_often_is_refused(api: TestClient):
    response = api.get("/v1/search", params=[("source", f"s{n}") for n in range(MAX_REPEATS + 1)])
    assert response.status_code == 422
    assert response.json()["detail"].startswith("source: given")


def test_a_huge_query_string_is_refused(api: TestClient):
    response = api.get("/v1/search", params={"q": "a" * (MAX_QUERY_STRING_BYTES + 1)})
    assert response.status_code == 414
    assert response.headers["content-type"] == "application/problem+json"


def test_a_query_over_the_grammar_limit_is_a_400(api: TestClient):
    response = api.get("/v1/search", params={"q": "a" * 1001})
    assert response.status_code == 400
    assert "too long" in response.json()["detail"]


def test_parameters_within_the_limits_pass(api: TestClient):
    params = [("source", f"s{n}") for n in range(MAX_REPEATS)]
    assert api.get("/v1/articles/missing", params=params).status_code == PASSED


def test_a_preflight_needs_no_key_and_a_refusal_is_readable_by_the_browser():
    origin = "https://editor.example.com"
    for client in client_for(api_keys=hash_key("nsg_k"), api_cors_origins=origin):
        assert preflight(client, origin).status_code == 200
        refused = client.get("/v1/search", headers={"Origin": origin})
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == origin


def test_idle_full_buckets_are_forgotten_when_many_are_tracked(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr("newsagg.api.ratelimit.MAX_TRACKED", 2)
    clock = Clock()
    buckets = TokenBuckets(rate=1, burst=2, clock=clock)
    buckets.take("old")
    clock.now += 10  # "old" is full again: the same as never seen
    buckets.take("recent")
    buckets.take("new")
    assert set(buckets.buckets) == {"recent", "new"}
