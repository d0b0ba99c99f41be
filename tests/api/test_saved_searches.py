"""/v1/saved-searches and the saved-search feed, in-process over the demo stories, with a
real alert store: SQLite under a temporary directory, and Elasticsearch (jvm).

Two API keys stand for two owners; the worker's part (matches, delivery state) is written
straight into the same alert store file, as the alerts worker would."""

from __future__ import annotations

import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from newsagg.api.app import create_app
from newsagg.api.routes.saved_searches import webhook_refusal
from newsagg.api.security import hash_key
from newsagg.core.adapters import open_alert_store
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.alerts.model import Match, owner_of
from newsagg.core.ports import AlertStore
from newsagg.core.query import parse_query
from newsagg.core.search import SearchQuery, Sort
from newsagg.core.settings import Settings
from support.demo_corpus import demo_store

KEY_A = "nsg_saved-owner-a"
KEY_B = "nsg_saved-owner-b"
A = {"X-API-Key": KEY_A}
B = {"X-API-Key": KEY_B}
HOOK = "http://127.0.0.1:9/hook"
ALERT_STORES = ["sqlite", pytest.param("elasticsearch", marks=pytest.mark.jvm)]
HOSTILE = '<script>alert("x")</script> & </title><title>]]>'


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TantivyStore]:
    store = demo_store(tmp_path_factory.mktemp("saved-index") / "index")
    yield store
    store.close()


def make_client(index: TantivyStore, data_dir: Path, **settings: Any) -> TestClient:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "api_keys": f"{hash_key(KEY_A)},{hash_key(KEY_B)}",
        "alerts_allow_private_webhooks": True,
        "api_public_url": "https://news.example.com",
        **settings,
    }
    return TestClient(create_app(Settings(**values), store=index))


@pytest.fixture(params=ALERT_STORES)
def alert_settings(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Where the API keeps saved searches: SQLite under the data dir (the default), or
    indices of their own on the session's Elasticsearch node, dropped afterwards."""
    if request.param == "sqlite":
        yield {}
        return
    url = request.getfixturevalue("elasticsearch_url")
    extra = {"alerts_url": url, "alerts_index": f"test-saved-{uuid.uuid4().hex[:12]}"}
    yield extra
    store = open_alert_store(url, Settings(**extra))
    try:
        store.drop()  # type: ignore[attr-defined]
    finally:
        store.close()


@pytest.fixture
def client(
    index: TantivyStore, tmp_path: Path, alert_settings: dict[str, str]
) -> Iterator[TestClient]:
    with make_client(index, tmp_path, **alert_settings) as client:
        yield client


@pytest.fixture
def alerts(
    client: TestClient, tmp_path: Path, alert_settings: dict[str, str]
) -> Iterator[AlertStore]:
    """The alert store the API writes, opened as the alerts worker opens it."""
    settings = Settings(data_dir=tmp_path, **alert_settings)
    store = open_alert_store(settings.resolved_alerts_url, settings)
    store.ensure_schema()
    yield store
    store.close()


def create(client: TestClient, headers: dict[str, str] = A, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/saved-searches", json={"name": "Soman", **body}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def soman_ids(index: TantivyStore) -> list[str]:
    page = index.search(
        SearchQuery(query=parse_query("Milind Soman"), sort=Sort.DATE, size=50, facets=())
    )
    assert len(page.hits) >= 3
    return [hit.id for hit in page.hits]


# -- create, read, list, delete ------------------------------------------------------


def test_create_returns_id_secret_and_an_absolute_feed_url(client: TestClient):
    created = create(
        client,
        q="Milind Soman cycling",
        sources=["marquee-daily"],
        language=["en"],
        **{"from": "2020-01-01", "to": "2030-12-31"},
        webhook_url=HOOK,
        emails=["desk@example.com"],
        schedule="hourly",
    )
    assert created["id"].startswith("ss_")
    assert len(created["secret"]) == 64
    assert created["feed_url"].startswith(
        f"https://news.example.com/feeds/saved/{created['id']}.xml?token="
    )
    assert (created["status"], created["pending"], created["schedule"]) == ("active", 0, "hourly")
    assert created["sources"] == ["marquee-daily"]
    assert created["language"] == ["en"]
    assert created["from"] == "2020-01-01T00:00:00Z"
    assert created["to"].startswith("2030-12-31T23:59:59")
    fetched = client.get(f"/v1/saved-searches/{created['id']}", headers=A).json()
    assert "secret" not in fetched
    assert {k: v for k, v in created.items() if k != "secret"} == fetched


def test_the_list_is_the_owner_s_own_and_holds_no_secrets(client: TestClient):
    first = create(client, name="first", q="Soman")
    second = create(client, name="second", q="cycling")
    create(client, B, name="someone else's", q="Soman")
    listing = client.get("/v1/saved-searches", headers=A).json()["saved_searches"]
    assert [s["id"] for s in listing] == [first["id"], second["id"]]
    assert all("secret" not in s for s in listing)
    assert [
        s["name"] for s in client.get("/v1/saved-searches", headers=B).json()["saved_searches"]
    ] == ["someone else's"]


def test_another_owner_s_search_is_a_404_for_every_route(client: TestClient):
    theirs = create(client, B, q="Soman")["id"]
    path = f"/v1/saved-searches/{theirs}"
    for method, url, body in [
        ("GET", path, None),
        ("PATCH", path, {"paused": True}),
        ("DELETE", path, None),
        ("GET", f"{path}/matches", None),
        ("POST", f"{path}/test", None),
        ("GET", f"{path}/spikes", None),
    ]:
        response = client.request(method, url, json=body, headers=A)
        assert response.status_code == 404, (method, url)
        assert response.headers["content-type"] == "application/problem+json"
    assert client.get(path, headers=B).json()["paused"] is False  # untouched


def test_delete_removes_it_and_its_feed(client: TestClient):
    created = create(client, q="Soman")
    assert client.get(created["feed_url"]).status_code == 200
    assert client.delete(f"/v1/saved-searches/{created['id']}", headers=A).status_code == 204
    assert client.get(f"/v1/saved-searches/{created['id']}", headers=A).status_code == 404
    assert client.get(created["feed_url"]).status_code == 404
    assert client.delete(f"/v1/saved-searches/{created['id']}", headers=A).status_code == 404


def test_keys_are_needed_for_the_api_but_an_open_api_has_one_default_owner(
    client: TestClient, index: TantivyStore, tmp_path: Path
):
    assert client.get("/v1/saved-searches").status_code == 401
    with make_client(index, tmp_path / "open", api_keys="") as open_api:
        created = open_api.post("/v1/saved-searches", json={"name": "all", "q": "Soman"})
        assert created.status_code == 201
        listing = open_api.get("/v1/saved-searches").json()["saved_searches"]
        assert [s["id"] for s in listing] == [created.json()["id"]]
    store = open_alert_store(f"sqlite:///{tmp_path / 'open' / 'alerts.sqlite'}")
    try:
        assert store.get(created.json()["id"]).owner == "default"  # type: ignore[union-attr]
    finally:
        store.close()


def test_the_owner_is_the_key_s_hash_prefix_never_the_key(client: TestClient, alerts: AlertStore):
    created = create(client, q="Soman")
    stored = alerts.get(created["id"])
    assert stored is not None
    assert stored.owner == owner_of(hash_key(KEY_A)) != KEY_A


# -- validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "parameter", "words"),
    [
        ({"q": '"unclosed'}, "q", "unbalanced quote"),
        ({"q": "Soman", "from": "yesterday"}, "from", "not an ISO date"),
        ({"q": "Soman", "date_source": ["guess"]}, "date_source", "unknown date source"),
        ({"q": "Soman", "quality": "great"}, "quality", ""),
        ({"q": "Soman", "emails": ["not-an-address"]}, "emails", "not an email address"),
        ({"q": "Soman", "emails": ["a@b.c\r\nBcc: x@y.z"]}, "emails", "not an email address"),
        ({"q": "Soman", "webhook_url": "ftp://example.com/x"}, "webhook_url", "http"),
        ({"q": "Soman", "webhook_url": "http://u:p@example.com/"}, "webhook_url", "password"),
        ({"q": "Soman", "schedule": "weekly"}, "schedule", ""),
        ({"q": "Soman", "name": ""}, "name", ""),
        ({"q": "Soman", "name": "   "}, "name", "blank"),
        ({"q": "Soman", "name": "line\nbreak"}, "name", ""),
        ({"q": "Soman", "colour": "red"}, "colour", ""),
    ],
)
def test_bad_fields_are_422_problems_naming_the_field(
    client: TestClient, body: dict[str, Any], parameter: str, words: str
):
    response = client.post("/v1/saved-searches", json={"name": "x", **body}, headers=A)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert parameter in [e["parameter"] for e in problem["errors"]]
    assert words in problem["detail"]
    assert client.get("/v1/saved-searches", headers=A).json()["saved_searches"] == []


def test_a_query_syntax_error_says_where(client: TestClient):
    response = client.post("/v1/saved-searches", json={"name": "x", "q": "Soman AND ("}, headers=A)
    assert response.status_code == 422
    problem = response.json()
    assert problem["title"] == "Invalid query"
    assert isinstance(problem["position"], int)
    assert problem["reason"]


def test_private_webhooks_are_refused_unless_allowed(index: TantivyStore, tmp_path: Path):
    with make_client(index, tmp_path, alerts_allow_private_webhooks=False) as guarded:
        for url in (
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://[::1]/hook",
            "http://10.1.2.3/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://[::ffff:192.168.0.1]/",
        ):
            response = guarded.post(
                "/v1/saved-searches", json={"name": "x", "webhook_url": url}, headers=A
            )
            assert response.status_code == 422, url
            assert "NEWSAGG_ALERTS_ALLOW_PRIVATE_WEBHOOKS" in response.json()["detail"]
        patched = guarded.post("/v1/saved-searches", json={"name": "x"}, headers=A).json()
        response = guarded.patch(
            f"/v1/saved-searches/{patched['id']}", json={"webhook_url": HOOK}, headers=A
        )
        assert response.status_code == 422
    assert webhook_refusal("https://203.0.113.9/hook", allow_private=False) is not None  # TEST-NET
    assert webhook_refusal("https://8.8.8.8/hook", allow_private=False) is None
    assert webhook_refusal(HOOK, allow_private=True) is None


def test_an_owner_holds_at_most_the_limit(index: TantivyStore, tmp_path: Path):
    with make_client(index, tmp_path, alerts_max_per_owner=2) as limited:
        create(limited, name="one")
        create(limited, name="two")
        refused = limited.post("/v1/saved-searches", json={"name": "three"}, headers=A)
        assert refused.status_code == 409
        assert "NEWSAGG_ALERTS_MAX_PER_OWNER=2" in refused.json()["detail"]
        create(limited, B, name="another owner's first")


def test_saves_at_once_never_take_an_owner_over_the_limit(index: TantivyStore, tmp_path: Path):
    """Twenty saves at once against a limit of five: each passes the first count before the
    others have written, so only the count after the write keeps the limit."""
    with make_client(index, tmp_path, alerts_max_per_owner=5) as limited:
        start = threading.Barrier(20)

        def save(n: int) -> int:
            start.wait()
            return limited.post(
                "/v1/saved-searches", json={"name": f"at once {n}"}, headers=A
            ).status_code

        with ThreadPoolExecutor(20) as pool:
            statuses = list(pool.map(save, range(20)))
        held = limited.get("/v1/saved-searches", headers=A).json()["saved_searches"]
        assert set(statuses) <= {201, 409}
        assert len(held) == statuses.count(201) <= 5


# -- patch: change, pause, resume, rotate ------------------------------------------------


def test_patch_changes_only_what_it_names(client: TestClient):
    created = create(client, q="Soman", sources=["marquee-daily"], webhook_url=HOOK)
    path = f"/v1/saved-searches/{created['id']}"
    patched = client.patch(path, json={"name": "renamed", "language": ["en"]}, headers=A)
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["name"], body["q"], body["sources"], body["language"]) == (
        "renamed",
        "Soman",
        ["marquee-daily"],
        ["en"],
    )
    assert body["webhook_url"] == HOOK
    assert body["secret"] is None
    cleared = client.patch(path, json={"webhook_url": None, "sources": []}, headers=A).json()
    assert (cleared["webhook_url"], cleared["sources"], cleared["language"]) == (None, [], ["en"])
    bad = client.patch(path, json={"q": "(Soman"}, headers=A)
    assert bad.status_code == 422
    assert bad.json()["title"] == "Invalid query"
    assert client.patch(path, json={"name": None}, headers=A).status_code == 422
    assert client.get(path, headers=A).json()["q"] == "Soman"


def test_pause_and_resume_and_resume_clears_failing(client: TestClient, alerts: AlertStore):
    created = create(client, q="Soman", webhook_url=HOOK)
    path = f"/v1/saved-searches/{created['id']}"
    assert client.patch(path, json={"paused": True}, headers=A).json()["status"] == "paused"
    stored = alerts.get(created["id"])
    assert stored is not None
    assert stored.paused
    # the worker gave up on the receiver meanwhile
    alerts.update(
        stored.model_copy(
            update={
                "failing": True,
                "attempts": 8,
                "last_error": "HTTP 500",
                "next_attempt_at": datetime.now(UTC) + timedelta(hours=1),
            }
        )
    )
    assert client.get(path, headers=A).json()["status"] == "paused"
    assert client.patch(path, json={"paused": True}, headers=A).status_code == 200
    failing = client.patch(path, json={"paused": False}, headers=A)  # paused -> unpaused
    assert failing.json()["status"] == "active"
    resumed = alerts.get(created["id"])
    assert resumed is not None
    assert (resumed.paused, resumed.failing, resumed.attempts, resumed.next_attempt_at) == (
        False,
        False,
        0,
        None,
    )


def test_rotating_the_secret_and_the_feed_token(client: TestClient):
    created = create(client, q="Soman")
    path = f"/v1/saved-searches/{created['id']}"
    rotated = client.patch(path, json={"rotate_secret": True}, headers=A).json()
    assert rotated["secret"]
    assert rotated["secret"] != created["secret"]
    assert rotated["feed_url"] == created["feed_url"]
    moved = client.patch(path, json={"rotate_feed_token": True}, headers=A).json()
    assert moved["feed_url"] != created["feed_url"]
    assert moved["secret"] is None
    assert client.get(created["feed_url"]).status_code == 404
    assert client.get(moved["feed_url"]).status_code == 200


# -- matches, test request, spikes ------------------------------------------------------


def test_matches_lists_the_undelivered_with_their_articles(
    client: TestClient, alerts: AlertStore, index: TantivyStore
):
    created = create(client, q="Milind Soman")
    ids = soman_ids(index)[:3]
    start = datetime(2026, 11, 30, 8, tzinfo=UTC)
    matches = [
        Match(search_id=created["id"], article_id=i, matched_at=start + timedelta(minutes=n))
        for n, i in enumerate(ids)
    ]
    purged = Match(search_id=created["id"], article_id="9" * 32, matched_at=start + timedelta(1))
    assert alerts.add_matches([*matches, purged]) == 4
    path = f"/v1/saved-searches/{created['id']}/matches"
    pending = client.get(path, headers=A).json()
    assert [m["id"] for m in pending["matches"]] == ids  # oldest first; the purged one left out
    first = pending["matches"][0]
    article = index.get(ids[0])
    assert article is not None
    assert (first["url"], first["title"], first["source"], first["story_id"]) == (
        article.url,
        article.title,
        article.source,
        article.story_id,
    )
    assert client.get(f"/v1/saved-searches/{created['id']}", headers=A).json()["pending"] == 4

    delivery = alerts.open_delivery(created["id"], limit=2)
    assert delivery is not None
    alerts.close_delivery(delivery, datetime.now(UTC))
    left = client.get(path, headers=A).json()["matches"]
    assert len(left) == 1  # two delivered, the purged article's match hidden
    since = client.get(path, params={"since": "2026-11-30T08:01:00Z"}, headers=A).json()
    assert [m["id"] for m in since["matches"]] == [ids[2], ids[1]]  # newest first
    assert since["matches"][1]["delivered_at"] is not None
    assert client.get(path, params={"since": "soon"}, headers=A).status_code == 422


def test_a_test_request_is_recorded_for_the_worker(client: TestClient, alerts: AlertStore):
    created = create(client, q="Soman", webhook_url=HOOK)
    before = datetime.now(UTC)
    response = client.post(f"/v1/saved-searches/{created['id']}/test", headers=A)
    assert response.status_code == 202
    assert response.json()["test_requested_at"] is not None
    stored = alerts.get(created["id"])
    assert stored is not None
    assert stored.test_requested_at is not None
    assert stored.test_requested_at >= before


def test_spikes_reports_the_rule_and_the_hours(client: TestClient):
    created = create(client, q="Soman")
    report = client.get(f"/v1/saved-searches/{created['id']}/spikes", headers=A).json()
    assert report["spike"] is False
    assert "Poisson" in report["rule"]
    assert len(report["hours"]) >= 14 * 24


# -- the feed --------------------------------------------------------------------------


def test_the_feed_needs_its_token_not_a_key(client: TestClient, index: TantivyStore):
    created = create(client, q="Milind Soman")
    url = created["feed_url"].removeprefix("https://news.example.com")
    response = client.get(url)  # no X-API-Key: feed readers send none
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/rss+xml")
    channel = ET.fromstring(response.content).find("channel")
    assert channel is not None
    items = [item.findtext("guid") for item in channel.findall("item")]
    assert items == soman_ids(index)[: len(items)]
    assert items
    assert channel.findtext("link") == created["feed_url"]
    path = url.split("?")[0]
    for token in ("", "wrong", created["feed_url"].split("token=")[1][:-1]):
        assert client.get(path, params={"token": token}).status_code in (404, 422)
    assert client.get(path).status_code == 422  # no token at all
    other = create(client, B, q="Soman")["feed_url"].split("token=")[1]
    assert client.get(path, params={"token": other}).status_code == 404


def test_hostile_names_and_queries_are_escaped_in_the_feed(client: TestClient):
    created = create(client, name=HOSTILE, q='"</title>" OR Soman')
    response = client.get(created["feed_url"])
    assert response.status_code == 200
    assert b"<script>" not in response.content
    channel = ET.fromstring(response.content).find("channel")
    assert channel is not None
    assert channel.findtext("title") == f"newsagg: {HOSTILE}"
    listed = client.get("/v1/saved-searches", headers=A).json()["saved_searches"]
    assert listed[0]["name"] == HOSTILE  # JSON keeps it as text; the page escapes it
