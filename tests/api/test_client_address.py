"""The client IP that rate limits count by: the connection's peer, unless a trusted proxy
forwards for it. Run on real uvicorn, where X-Forwarded-For arrives as it would in service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from newsagg.api.app import create_app
from newsagg.api.security import hash_key
from newsagg.core.settings import Settings
from pydantic import ValidationError
from support.fakes import MemoryStore
from support.live_api import Get, serve

PASSED = 404  # /v1/articles/missing: the request got through to the route
LIMITED = {"api_rate_limit": 0.001, "api_rate_burst": 3}


@pytest.fixture
def direct() -> Iterator[Get]:
    """No trusted proxy: the default."""
    yield from serve(Settings(**LIMITED))


@pytest.fixture
def behind_proxy() -> Iterator[Get]:
    """The test's own connections come from a trusted proxy on loopback."""
    yield from serve(Settings(**LIMITED, api_trusted_proxies="10.0.0.0/8, 127.0.0.1"))


def test_a_client_cannot_escape_the_limit_by_rotating_x_forwarded_for(direct: Get):
    answers = [direct(**{"X-Forwarded-For": f"203.0.113.{n}"}) for n in range(5)]
    assert answers == [PASSED] * 3 + [429] * 2


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket(behind_proxy: Get):
    rotating = [behind_proxy(**{"X-Forwarded-For": f"203.0.113.{n}"}) for n in range(5)]
    assert rotating == [PASSED] * 5
    one = [behind_proxy(**{"X-Forwarded-For": "198.51.100.7"}) for _ in range(4)]
    assert one == [PASSED] * 3 + [429]
    # A client's own X-Forwarded-For before the proxy's entry is not believed either: the
    # client is the last address the trusted proxies did not add.
    spoofed = [behind_proxy(**{"X-Forwarded-For": f"192.0.2.{n}, 198.51.100.8"}) for n in range(4)]
    assert spoofed == [PASSED] * 3 + [429]


def test_requests_with_a_wrong_or_missing_key_are_rate_limited_per_client():
    key = "nsg_the-right-key"
    settings = Settings(**LIMITED, api_keys=hash_key(key))
    with TestClient(create_app(settings, store=MemoryStore())) as client:
        guesses = [
            client.get("/v1/articles/missing", headers={"X-API-Key": f"guess-{n}"}).status_code
            for n in range(3)
        ]
        assert [*guesses, client.get("/v1/articles/missing").status_code] == [401] * 3 + [429]
        limited = client.get("/v1/articles/missing", headers={"X-API-Key": "guess-9"})
        assert limited.headers["retry-after"]
        # The right key has its own bucket: guessing from this address does not lock it out.
        assert client.get("/v1/articles/missing", headers={"X-API-Key": key}).status_code == PASSED
        other = TestClient(client.app, client=("198.51.100.9", 50000))
        assert other.get("/v1/articles/missing").status_code == 401


@pytest.mark.parametrize("value", ["*", "proxy.example.com", "10.0.0.0/33", "10.0.0.1;10.0.0.2"])
def test_settings_refuse_a_trusted_proxy_that_is_not_an_address(value: str):
    with pytest.raises(ValidationError, match="api_trusted_proxies"):
        Settings(api_trusted_proxies=value)
