"""Saved searches end to end: the demo sites crawled, indexed and matched by `newsagg
alerts` as separate processes, delivering to a real webhook receiver on 127.0.0.1 that
checks every signature.

Exactly the store's answer: each saved search is delivered the articles the same search
finds, no more, no fewer. At least once, never one article under two deliveries: through
kill -9 of the worker mid-stream, a receiver that refuses connections and then answers
500 for a while, and a search that turned failing and was resumed through the API.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from newsagg.core.adapters.sqlite_alerts import SqliteAlertStore
from newsagg.core.adapters.sqlite_bus import SqliteLogBus
from newsagg.core.alerts.model import SavedSearch
from newsagg.core.ports import ARTICLES_TOPIC, Message
from support.alert_deliveries import (
    DELIVERY_TIMEOUT,
    SEARCHES,
    WORKER_ENV,
    accepted_ids,
    assert_exactly_once,
    found_by_search,
)
from support.pipeline import Pipeline, indexed_pipeline, pipeline_env
from support.servers import Service, free_port, wait_until
from support.webhook_receiver import WebhookReceiver, webhook_receiver

from newsagg.cli.demo_site import DemoSites

pytestmark = pytest.mark.e2e

PASSES = 3
"""The killed worker's bus holds each article this many times (re-deliveries): a long
stream of one-article batches to land the kills in."""
KILLS = 3


def make_searches(
    alerts: SqliteAlertStore, url: str, receiver: WebhookReceiver, names: tuple[str, ...] = ()
) -> dict:
    """The saved searches of SEARCHES (those named, else all), delivering to `url`;
    name -> SavedSearch."""
    made = {}
    for name, (q, filters) in SEARCHES.items():
        if names and name not in names:
            continue
        search = SavedSearch(name=name, q=q, filters=filters, webhook_url=url)
        alerts.create(search)
        receiver.secrets[search.id] = search.secret
        made[name] = search
    return made


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as running:
        yield running


@pytest.fixture(scope="module")
def pipeline(
    tmp_path_factory: pytest.TempPathFactory,
    demo_site: DemoSites,
    manifest: dict,
    receiver: WebhookReceiver,
) -> Iterator[tuple[Pipeline, dict]]:
    """crawl + index + alerts + api on the demo sites, the saved searches made before the
    first article arrives."""
    root = tmp_path_factory.mktemp("e2e-alerts")
    env = pipeline_env(root / "data", sources=demo_site.sources_yaml(), extra=WORKER_ENV)
    alerts = SqliteAlertStore(root / "data" / "alerts.sqlite")
    searches = make_searches(alerts, receiver.url, receiver)
    alerts.close()
    running = Pipeline(env, root, commands=("crawl", "index", "alerts", "api"))
    with indexed_pipeline(running, manifest["article_count"]):
        yield running, searches


@pytest.fixture(scope="module")
def expected(pipeline: tuple[Pipeline, dict]) -> dict[str, set[str]]:
    """Per saved search, the ids the same search finds."""
    return found_by_search(pipeline[0])


@pytest.fixture(scope="module")
def messages(pipeline: tuple[Pipeline, dict]) -> list[Message]:
    """The crawled articles' messages, copied off the pipeline's bus."""
    running, _ = pipeline
    bus = running.bus()
    consumer = bus.consumer(ARTICLES_TOPIC, "e2e-alerts-copy")
    copied: list[Message] = []
    while batch := consumer.poll(1000, timeout=0.5):
        copied.extend(batch)
    consumer.close()
    bus.close()
    return copied


def worker_env(pipeline: Pipeline, data_dir: Path, **extra: str) -> dict[str, str]:
    """A worker of its own (bus, alert store) matching against the pipeline's index."""
    index = pipeline.data_dir / "index"
    env = pipeline_env(data_dir, store_url=f"tantivy:///{index}", extra={**WORKER_ENV, **extra})
    return env


def publish(data_dir: Path, messages: list[Message], passes: int = 1) -> None:
    bus = SqliteLogBus(data_dir / "bus.sqlite")
    for _ in range(passes):
        for message in messages:
            bus.publish(ARTICLES_TOPIC, message.key, message.value)
    bus.close()


def test_each_saved_search_is_delivered_what_the_same_search_finds(
    pipeline: tuple[Pipeline, dict], expected: dict, receiver: WebhookReceiver
):
    running, searches = pipeline
    for name, search in searches.items():
        wait_until(
            lambda s=search, n=name: accepted_ids(receiver, s.id) == expected[n],
            DELIVERY_TIMEOUT,
            f"the {name} search's articles delivered",
        )
    assert_exactly_once(receiver, searches, expected)
    assert running.services["alerts"].running
    first = next(p for p in receiver.received if p.json["id"] == searches["phrase"].id)
    [article] = first.json["articles"]
    assert article["title"].startswith("Ankita Konwar cheers on Milind Soman")
    assert article["url"].endswith(".html")
    assert set(article) >= {"id", "url", "title", "source", "published_at", "story_id"}


def test_kill_9_mid_stream_loses_nothing_and_sends_nothing_twice(
    tmp_path: Path, pipeline: tuple[Pipeline, dict], expected: dict, messages: list[Message]
):
    running, _ = pipeline
    data_dir = tmp_path / "data"
    env = worker_env(running, data_dir, NEWSAGG_ALERTS_BATCH_SIZE="1")
    publish(data_dir, messages, PASSES)
    total = len(messages) * PASSES
    with webhook_receiver() as receiver:
        alerts = SqliteAlertStore(data_dir / "alerts.sqlite")
        searches = make_searches(alerts, receiver.url, receiver)
        lag = SqliteLogBus(data_dir / "bus.sqlite").consumer(ARTICLES_TOPIC, "alerts")
        for kill in range(1, KILLS + 1):
            worker = Service(["alerts"], env, tmp_path)
            wanted = kill * total // (KILLS + 2)
            wait_until(
                lambda w=worker, n=wanted: w.log().count("matched 1 articles") >= n,
                120,
                f"{wanted} batches matched before kill {kill}",
            )
            worker.kill9()
            remaining = sum(lag.lag().values())
            assert 0 < remaining < total, "the kill did not land mid-stream"
        last = Service(["alerts"], env, tmp_path)
        try:
            wait_until(lambda: sum(lag.lag().values()) == 0, 300, "the worker to catch up")
            for name, search in searches.items():
                wait_until(
                    lambda s=search, n=name: accepted_ids(receiver, s.id) == expected[n],
                    DELIVERY_TIMEOUT,
                    f"the {name} search's articles delivered",
                )
        finally:
            last.stop()
            lag.close()
        assert_exactly_once(receiver, searches, expected)
        assert all(alerts.pending(s.id) == [] for s in searches.values())
        alerts.close()


def test_a_receiver_down_then_failing_gets_everything_once_it_answers(
    tmp_path: Path, pipeline: tuple[Pipeline, dict], expected: dict, messages: list[Message]
):
    """Connections refused, then HTTP 500 for a while: the same deliveries are retried
    with backoff, then go through with no gap."""
    running, _ = pipeline
    data_dir = tmp_path / "data"
    env = worker_env(
        running,
        data_dir,
        NEWSAGG_ALERTS_RETRY_DELAY="0.2",
        NEWSAGG_ALERTS_MAX_RETRY_DELAY="1",
        NEWSAGG_ALERTS_MAX_ATTEMPTS="100",
    )
    publish(data_dir, messages)
    port = free_port()  # nothing listens there yet: connections are refused
    receiver = WebhookReceiver(port=port, status=500)
    alerts = SqliteAlertStore(data_dir / "alerts.sqlite")
    searches = make_searches(alerts, f"http://127.0.0.1:{port}/hook", receiver)
    worker = Service(["alerts"], env, tmp_path)
    try:
        wait_until(
            lambda: all(alerts.get(s.id).attempts >= 3 for s in searches.values()),
            120,
            "three refused attempts of each search",
        )
        assert all("ConnectError" in alerts.get(s.id).last_error for s in searches.values())
        with webhook_receiver(receiver):
            wait_until(
                lambda: len(receiver.received) >= 2 * len(searches), 60, "500s to be retried"
            )
            assert not receiver.accepted()
            receiver.status = 200
            for name, search in searches.items():
                wait_until(
                    lambda s=search, n=name: accepted_ids(receiver, s.id) == expected[n],
                    DELIVERY_TIMEOUT,
                    f"the {name} search's articles delivered",
                )
            assert_exactly_once(receiver, searches, expected)
            wait_until(  # the state is written just after the receiver answers
                lambda: all(
                    alerts.get(s.id).attempts == 0 and alerts.get(s.id).last_error is None
                    for s in searches.values()
                ),
                10,
                "the delivery state to say delivered",
            )
    finally:
        worker.stop()
        alerts.close()


def patch(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="PATCH",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.load(response)


def test_a_failing_search_catches_up_once_resumed_through_the_api(
    tmp_path: Path, pipeline: tuple[Pipeline, dict], expected: dict, messages: list[Message]
):
    running, _ = pipeline
    data_dir = tmp_path / "data"
    env = worker_env(
        running,
        data_dir,
        NEWSAGG_ALERTS_RETRY_DELAY="0.2",
        NEWSAGG_ALERTS_MAX_RETRY_DELAY="0.5",
        NEWSAGG_ALERTS_MAX_ATTEMPTS="2",
    )
    publish(data_dir, messages)
    with webhook_receiver(WebhookReceiver(status=500)) as receiver:
        alerts = SqliteAlertStore(data_dir / "alerts.sqlite")
        searches = make_searches(alerts, receiver.url, receiver, ("soman",))
        search = searches["soman"]
        worker = Service(["alerts"], env, tmp_path)
        api = Service(["api"], env, tmp_path)
        try:
            wait_until(lambda: alerts.get(search.id).failing, 60, "the search to be failing")
            tried = len(receiver.received)
            assert tried == 2
            wait_until(lambda: running_api(env), 60, "the API")
            status, view = get_view(env, search.id)
            assert (status, view["status"]) == (200, "failing")
            receiver.status = 200
            time.sleep(2)  # ten retry delays: a failing search is not retried
            assert len(receiver.received) == tried
            status, view = patch(
                f"http://127.0.0.1:{env['NEWSAGG_API_PORT']}/v1/saved-searches/{search.id}",
                {"paused": False},
            )
            assert (status, view["status"]) == (200, "active")
            wait_until(
                lambda: accepted_ids(receiver, search.id) == expected["soman"],
                DELIVERY_TIMEOUT,
                "the kept matches delivered",
            )
            assert_exactly_once(receiver, searches, expected)
            assert len({p.delivery for p in receiver.received}) == 1  # the same one resent
        finally:
            api.stop()
            worker.stop()
            alerts.close()


def running_api(env: dict[str, str]) -> bool:
    with urllib.request.urlopen(
        f"http://127.0.0.1:{env['NEWSAGG_API_PORT']}/healthz", timeout=2
    ) as response:
        return response.status == 200


def get_view(env: dict[str, str], search_id: str) -> tuple[int, dict]:
    url = f"http://127.0.0.1:{env['NEWSAGG_API_PORT']}/v1/saved-searches/{search_id}"
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, json.load(response)


@pytest.mark.parametrize(
    ("setup", "extra", "code", "says"),
    [
        ("damaged", {}, 3, "alerts.sqlite is corrupted"),
        ("", {"NEWSAGG_ALERTS_SHARD": "2", "NEWSAGG_ALERTS_SHARDS": "2"}, 2, "must be below"),
    ],
)
def test_damage_and_bad_configuration_stop_the_worker_with_their_exit_codes(
    tmp_path: Path, setup: str, extra: dict[str, str], code: int, says: str
):
    """3 (damaged data) and 2 (configuration): the codes `newsagg up` does not restart."""
    data_dir = tmp_path / "data"
    env = pipeline_env(data_dir, extra={**WORKER_ENV, **extra})
    if setup == "damaged":
        (data_dir / "alerts.sqlite").write_bytes(b"not a database, " * 512)
    worker = Service(["alerts"], env, tmp_path)
    worker.process.wait(timeout=60)
    assert worker.stop() == code
    assert says in worker.log()
