"""The alerts worker's deliveries, on real parts: the SQLite alert store, a tantivy index, a
webhook receiver on 127.0.0.1 that checks signatures, and aiosmtpd for email."""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from newsagg.alerts.delivery import Deliverer, Interrupted, backoff, digest_slot, is_due
from newsagg.alerts.metrics import REGISTRY
from newsagg.core.adapters import open_store
from newsagg.core.adapters.sqlite_alerts import SqliteAlertStore
from newsagg.core.alerts.delivery import WebhookRefused, resolve_webhook
from newsagg.core.alerts.model import Match, SavedSearch, Schedule
from newsagg.core.article import Article, DateSource
from newsagg.core.ports import SearchStore
from newsagg.core.settings import Settings
from newsagg.core.sources import shard_of
from support.webhook_receiver import WebhookReceiver, smtp_server, webhook_receiver

START = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def article(slug: str, title: str, story: str | None = None) -> Article:
    made = Article.create(
        url=f"https://news.example/{slug}",
        source="news-example",
        title=title,
        text=f"{title}. The whole story of {slug}, told at length.",
        crawled_at=START - timedelta(hours=1),
        published_at=START - timedelta(hours=2),
        date_source=DateSource.META,
    )
    return made.model_copy(update={"story_id": story or made.id})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SearchStore]:
    writer = open_store(f"tantivy:///{tmp_path / 'index'}", writable=True)
    writer.ensure_schema()
    yield writer
    writer.close()


@pytest.fixture
def alerts(tmp_path: Path) -> Iterator[SqliteAlertStore]:
    opened = SqliteAlertStore(tmp_path / "alerts.sqlite")
    yield opened
    opened.close()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as running:
        yield running


def settings(**changes: object) -> Settings:
    values: dict[str, object] = {
        "alerts_allow_private_webhooks": True,
        "alerts_retry_delay": 2.0,
        "alerts_max_retry_delay": 5.0,
        "alerts_max_attempts": 3,
        "alerts_webhook_timeout": 5.0,
        "smtp_host": "",
    }
    values.update(changes)
    return Settings(**values)


def saved(
    alerts: SqliteAlertStore, receiver: WebhookReceiver | None, **fields: object
) -> SavedSearch:
    values: dict[str, object] = {
        "name": "Soman <on> a bike",
        "q": "cycling",
        "webhook_url": receiver.url if receiver else None,
        "created_at": START - timedelta(days=1),
    }
    search = SavedSearch(**{**values, **fields})
    alerts.create(search)
    if receiver is not None:
        receiver.secrets[search.id] = search.secret
    return search


def matched(
    store: SearchStore, alerts: SqliteAlertStore, search: SavedSearch, *articles: Article
) -> None:
    store.upsert(list(articles))
    alerts.add_matches(
        [Match(search_id=search.id, article_id=a.id, matched_at=START) for a in articles]
    )


def test_a_delivery_is_signed_over_the_exact_bytes_sent_and_closed_once_taken(
    store: SearchStore, alerts: SqliteAlertStore, receiver: WebhookReceiver
):
    search = saved(alerts, receiver)
    first, second = article("a", "Cycling in Goa", "5" * 32), article("b", "More cycling", "5" * 32)
    lone = article("c", "A cycling record")
    matched(store, alerts, search, first, second, lone)
    deliverer = Deliverer(alerts, store, settings(), clock=Clock(START))

    assert deliverer.deliver(alerts.get(search.id))
    [got] = receiver.received
    assert got.signed
    assert got.headers["x-newsagg-event"] == "matches"
    assert got.headers["user-agent"] == "newsagg-alerts/0.1"
    assert got.headers["content-type"] == "application/json"
    body = got.json
    assert body["id"] == search.id
    assert body["delivery"] == got.delivery
    assert body["event"] == "matches"
    assert sorted(a["id"] for a in body["articles"]) == sorted([first.id, second.id, lone.id])
    by_id = {a["id"]: a for a in body["articles"]}
    assert by_id[first.id]["url"] == first.url
    assert by_id[first.id]["title"] == "Cycling in Goa"
    assert by_id[first.id]["source"] == "news-example"
    assert by_id[first.id]["story_id"] == "5" * 32
    stories = {s["story_id"]: sorted(s["article_ids"]) for s in body["stories"]}
    assert stories == {"5" * 32: sorted([first.id, second.id]), lone.id: [lone.id]}
    assert alerts.pending(search.id) == []
    after = alerts.get(search.id)
    assert after.last_delivery_at == START
    assert after.attempts == 0
    assert after.last_error is None
    assert not deliverer.deliver(after)  # nothing pending: nothing sent again
    assert len(receiver.received) == 1


def test_a_failing_receiver_is_retried_with_backoff_then_the_search_is_failing(
    store: SearchStore, alerts: SqliteAlertStore, receiver: WebhookReceiver
):
    search = saved(alerts, receiver)
    matched(store, alerts, search, article("a", "Cycling in Goa"))
    clock = Clock(START)
    deliverer = Deliverer(alerts, store, settings(), clock=clock)
    receiver.status = 500
    waits = []
    for attempt in (1, 2, 3):
        current = alerts.get(search.id)
        assert is_due(current, clock.now, 7)
        deliverer.deliver(current)
        current = alerts.get(search.id)
        assert current.attempts == attempt
        assert current.last_error == "webhook answered HTTP 500"
        waits.append(current.next_attempt_at - clock.now)
        assert not is_due(current, clock.now, 7)
        clock.now = current.next_attempt_at
    assert waits == [timedelta(seconds=2), timedelta(seconds=4), timedelta(seconds=5)]
    failing = alerts.get(search.id)
    assert failing.failing
    assert not is_due(failing, clock.now + timedelta(days=1), 7)
    ids = {r.delivery for r in receiver.received}
    assert len(ids) == 1  # the same delivery each time
    # Resumed (what PATCH {"paused": false} does): the kept matches go out, same delivery.
    alerts.update(failing.model_copy(update={"failing": False, "attempts": 0}))
    receiver.status = 204
    deliverer.tick()
    assert [r.delivery for r in receiver.accepted()] == list(ids)
    assert alerts.pending(search.id) == []
    assert not alerts.get(search.id).failing


def test_backoff_doubles_from_the_first_delay_up_to_the_ceiling():
    assert [backoff(n, 2.0, 300.0).total_seconds() for n in range(1, 10)] == [
        2,
        4,
        8,
        16,
        32,
        64,
        128,
        256,
        300,
    ]


def test_private_addresses_are_refused_at_send_time(
    store: SearchStore, alerts: SqliteAlertStore, receiver: WebhookReceiver
):
    search = saved(alerts, receiver)
    matched(store, alerts, search, article("a", "Cycling in Goa"))
    deliverer = Deliverer(
        alerts, store, settings(alerts_allow_private_webhooks=False), clock=Clock(START)
    )
    deliverer.deliver(alerts.get(search.id))
    assert receiver.received == []
    refused = alerts.get(search.id)
    assert refused.attempts == 1
    assert "127.0.0.1" in refused.last_error
    assert "NEWSAGG_ALERTS_ALLOW_PRIVATE_WEBHOOKS" in refused.last_error


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "ftp://93.184.216.34/hook",
        "http://user:pw@93.184.216.34/hook",
        "file:///etc/passwd",
    ],
)
def test_webhook_urls_off_http_or_to_non_public_addresses_are_refused(url: str):
    with pytest.raises(WebhookRefused):
        resolve_webhook(url, allow_private=False)


def test_a_public_address_passes_and_private_ones_pass_when_allowed():
    public = resolve_webhook("https://93.184.216.34:8443/hook", allow_private=False)
    assert (public.address, public.port, public.scheme) == ("93.184.216.34", 8443, "https")
    assert resolve_webhook("http://127.0.0.1/x", allow_private=True).address == "127.0.0.1"


def test_redirects_are_not_followed(
    store: SearchStore, alerts: SqliteAlertStore, receiver: WebhookReceiver
):
    search = saved(alerts, receiver)
    matched(store, alerts, search, article("a", "Cycling in Goa"))
    receiver.status = 302
    receiver.location = f"http://127.0.0.1:{receiver.port}/elsewhere"
    Deliverer(alerts, store, settings(), clock=Clock(START)).deliver(alerts.get(search.id))
    assert [r.path for r in receiver.received] == ["/hook"]
    assert alerts.get(search.id).last_error == "webhook answered HTTP 302"
    assert len(alerts.pending(search.id)) == 1


def test_a_receiver_that_stalls_times_out_and_the_matches_wait(
    store: SearchStore, alerts: SqliteAlertStore
):
    """A receiver that accepts the connection and never answers costs one timeout, not the
    delivery loop: the attempt fails, and the matches stay for the next one."""
    with socket.create_server(("127.0.0.1", 0)) as stalled:
        search = saved(alerts, None)
        alerts.update(
            search.model_copy(
                update={"webhook_url": f"http://127.0.0.1:{stalled.getsockname()[1]}/hook"}
            )
        )
        matched(store, alerts, search, article("a", "Cycling in Goa"))
        started = time.monotonic()
        attempted = Deliverer(
            alerts, store, settings(alerts_webhook_timeout=0.5), clock=Clock(START)
        ).deliver(alerts.get(search.id))
        assert time.monotonic() - started < 5
    assert attempted
    after = alerts.get(search.id)
    assert after.attempts == 1
    assert "timed out" in (after.last_error or "").lower()
    assert len(alerts.pending(search.id)) == 1


@contextmanager
def dripping_server(first: bytes, then: bytes = b"") -> Iterator[int]:
    """A TCP server on 127.0.0.1 that reads what comes, sends `first` whole, then `then`
    one byte every 0.2 s, then a space every 0.2 s, until the client hangs up: each read
    gets a byte well within any per-read timeout. Its port."""
    server = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn, contextlib.suppress(OSError):
                conn.settimeout(0.2)
                conn.sendall(first)
                dripped = itertools.chain(then, itertools.repeat(ord(" ")))
                while not done.wait(0.2):
                    with contextlib.suppress(TimeoutError):
                        conn.recv(65536)
                    conn.sendall(bytes([next(dripped)]))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        done.set()
        thread.join(timeout=5)
        server.close()


def test_a_receiver_that_drips_its_answer_times_out_on_the_whole_attempt(
    store: SearchStore, alerts: SqliteAlertStore
):
    """A byte every 0.2 s never trips a per-read timeout: the timeout bounds the attempt."""
    with dripping_server(b"", b"HTTP/1.1 200 OK\r\nX-Slow: ") as port:
        search = saved(alerts, None, webhook_url=f"http://127.0.0.1:{port}/hook")
        matched(store, alerts, search, article("a", "Cycling in Goa"))
        started = time.monotonic()
        Deliverer(alerts, store, settings(alerts_webhook_timeout=1.0), clock=Clock(START)).deliver(
            alerts.get(search.id)
        )
        assert time.monotonic() - started < 4
    after = alerts.get(search.id)
    assert after.attempts == 1
    assert "timed out" in (after.last_error or "")
    assert len(alerts.pending(search.id)) == 1


def test_a_receiver_answering_an_endless_body_is_taken_at_its_status(
    store: SearchStore, alerts: SqliteAlertStore
):
    """The status is the answer: a body of any size (here one that never ends) is not read."""
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\n\r\n"
    with dripping_server(head) as port:
        search = saved(alerts, None, webhook_url=f"http://127.0.0.1:{port}/hook")
        matched(store, alerts, search, article("a", "Cycling in Goa"))
        started = time.monotonic()
        Deliverer(alerts, store, settings(alerts_webhook_timeout=5.0), clock=Clock(START)).deliver(
            alerts.get(search.id)
        )
        assert time.monotonic() - started < 4
    after = alerts.get(search.id)
    assert (after.attempts, after.last_error) == (0, None)
    assert alerts.pending(search.id) == []


def test_an_smtp_server_that_drips_its_greeting_times_out_on_the_whole_session(
    store: SearchStore, alerts: SqliteAlertStore
):
    with dripping_server(b"", b"220-mail.example ESMTP\r\n220-") as port:
        search = saved(alerts, None, emails=("desk@example.com",))
        matched(store, alerts, search, article("a", "Cycling in Goa"))
        config = settings(smtp_host="127.0.0.1", smtp_port=port, alerts_webhook_timeout=1.0)
        started = time.monotonic()
        Deliverer(alerts, store, config, clock=Clock(START)).deliver(alerts.get(search.id))
        assert time.monotonic() - started < 4
    failed = alerts.get(search.id)
    assert failed.attempts == 1
    assert failed.last_error == "email: no answer within 1 s (timed out)"
    assert len(alerts.pending(search.id)) == 1


def test_email_is_a_plain_and_html_digest_grouped_by_story_and_escaped(
    store: SearchStore, alerts: SqliteAlertStore
):
    with smtp_server() as (port, mailbox):
        search = saved(alerts, None, emails=("desk@example.com", "night@example.com"))
        story = "e" * 32
        matched(
            store,
            alerts,
            search,
            article("a", "Cycling <script>alert(1)</script> & more", story),
            article("b", "Cycling again", story),
            article("c", "A cycling record"),
        )
        config = settings(smtp_host="127.0.0.1", smtp_port=port, smtp_from="alerts@example.com")
        assert Deliverer(alerts, store, config, clock=Clock(START)).deliver(alerts.get(search.id))
    [(recipients, mail)] = mailbox
    assert recipients == ["desk@example.com", "night@example.com"]
    assert mail["Subject"] == 'newsagg: 3 new articles for "Soman <on> a bike"'
    assert mail["From"] == "alerts@example.com"
    assert mail.get_content_type() == "multipart/alternative"
    plain = mail.get_body(("plain",)).get_content()
    rich = mail.get_body(("html",)).get_content()
    assert "Story (2 articles):" in plain
    assert "Cycling <script>alert(1)</script> & more" in plain
    assert "https://news.example/a" in plain
    assert "<script>" not in rich
    assert "Cycling &lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in rich
    assert "<h3>Story (2 articles)</h3>" in rich
    assert 'href="https://news.example/c"' in rich
    assert mail["X-Newsagg-Delivery"]
    assert alerts.pending(search.id) == []


def test_an_unreachable_smtp_server_is_a_failed_attempt(
    store: SearchStore, alerts: SqliteAlertStore, taken_port: int
):
    search = saved(alerts, None, emails=("desk@example.com",))
    matched(store, alerts, search, article("a", "Cycling in Goa"))
    config = settings(smtp_host="127.0.0.1", smtp_port=taken_port, alerts_webhook_timeout=2.0)
    Deliverer(alerts, store, config, clock=Clock(START)).deliver(alerts.get(search.id))
    failed = alerts.get(search.id)
    assert failed.attempts == 1
    assert failed.last_error.startswith("email:")
    assert len(alerts.pending(search.id)) == 1


def test_the_digest_hour_and_the_hourly_schedule(
    store: SearchStore, alerts: SqliteAlertStore, receiver: WebhookReceiver
):
    """A daily search made at 09:00 waits for the next 07:00 UTC; an hourly one goes at
    most once an hour."""
    daily = saved(alerts, receiver, schedule=Schedule.DAILY)
    alerts.update(daily.model_copy(update={"created_at": START - timedelta(hours=1)}))
    hourly = saved(alerts, receiver, schedule=Schedule.HOURLY)
    matched(store, alerts, daily, article("a", "Cycling in Goa"))
    matched(store, alerts, hourly, article("a", "Cycling in Goa"))
    clock = Clock(START + timedelta(minutes=30))
    deliverer = Deliverer(alerts, store, settings(alerts_digest_hour=7), clock=clock)
    deliverer.tick()
    assert {r.json["id"] for r in receiver.received} == {hourly.id}
    matched(store, alerts, hourly, article("b", "More cycling"))
    clock.now += timedelta(minutes=59)
    deliverer.wake([daily.id, hourly.id])
    deliverer.tick()
    assert len(receiver.received) == 1  # the hour since the last is not up; 07:00 not come
    clock.now = START.replace(hour=7) + timedelta(days=1, seconds=1)
    deliverer.wake([daily.id, hourly.id])
    deliverer.tick()
    assert sorted(r.json["id"] for r in receiver.received) == sorted(
        [hourly.id, hourly.id, daily.id]
    )
    assert alerts.pending(daily.id) == []
    assert alerts.pending(hourly.id) == []


def test_digest_slot_is_the_latest_digest_hour_at_or_before_now():
    assert digest_slot(START, 7) == START.replace(hour=7)
    assert digest_slot(START, 11) == START.replace(hour=11) - timedelta(days=1)
    assert digest_slot(START.replace(hour=11), 11) == START.replace(hour=11)


def test_a_test_delivery_that_works_clears_failing_and_the_matches_follow(
    store: SearchStore, alerts: SqliteAlertStore, receiver: WebhookReceiver
):
    search = saved(alerts, receiver)
    matched(store, alerts, search, article("a", "Cycling in Goa"))
    failing = alerts.get(search.id).model_copy(
        update={"failing": True, "attempts": 3, "test_requested_at": START}
    )
    alerts.update(failing)
    deliverer = Deliverer(alerts, store, settings(), clock=Clock(START))
    deliverer.tick()
    [test] = receiver.received
    assert test.signed
    assert test.json["event"] == "test"
    assert test.headers["x-newsagg-event"] == "test"
    assert [a["title"] for a in test.json["articles"]] == ["Cycling in Goa"]
    after = alerts.get(search.id)
    assert after.test_requested_at is None
    assert not after.failing
    assert after.attempts == 0
    assert len(alerts.pending(search.id)) == 1  # a test delivers nothing
    deliverer.wake([search.id])
    deliverer.tick()
    assert [r.json["event"] for r in receiver.received] == ["test", "matches"]
    assert alerts.pending(search.id) == []


def test_a_failed_test_delivery_is_recorded_and_not_repeated(
    store: SearchStore, alerts: SqliteAlertStore, receiver: WebhookReceiver
):
    search = saved(alerts, receiver)
    alerts.update(alerts.get(search.id).model_copy(update={"test_requested_at": START}))
    receiver.status = 503
    deliverer = Deliverer(alerts, store, settings(), clock=Clock(START))
    deliverer.tick()
    deliverer.tick()
    assert len(receiver.received) == 1
    after = alerts.get(search.id)
    assert after.test_requested_at is None
    assert after.last_error == "webhook answered HTTP 503"
    assert after.attempts == 0  # a test is not an attempt of the matches' delivery


def test_an_article_gone_from_the_store_is_left_out(
    store: SearchStore, alerts: SqliteAlertStore, receiver: WebhookReceiver
):
    search = saved(alerts, receiver)
    kept = article("a", "Cycling in Goa")
    matched(store, alerts, search, kept)
    alerts.add_matches([Match(search_id=search.id, article_id="f" * 32, matched_at=START)])
    Deliverer(alerts, store, settings(), clock=Clock(START)).deliver(alerts.get(search.id))
    [got] = receiver.received
    assert [a["id"] for a in got.json["articles"]] == [kept.id]
    assert alerts.pending(search.id) == []


def test_paused_searches_are_not_delivered_but_keep_their_matches(
    store: SearchStore, alerts: SqliteAlertStore, receiver: WebhookReceiver
):
    search = saved(alerts, receiver, paused=True)
    matched(store, alerts, search, article("a", "Cycling in Goa"))
    deliverer = Deliverer(alerts, store, settings(), clock=Clock(START))
    deliverer.wake([search.id])
    deliverer.tick()
    assert receiver.received == []
    alerts.update(alerts.get(search.id).model_copy(update={"paused": False}))
    deliverer.wake([search.id])
    deliverer.tick()
    assert len(receiver.accepted()) == 1


def published(slug: str, title: str, at: datetime) -> Article:
    return Article.create(
        url=f"https://news.example/{slug}",
        source="news-example",
        title=title,
        text=f"{title}. The whole story of {slug}.",
        crawled_at=at,
        published_at=at,
        date_source=DateSource.META,
    )


@pytest.mark.parametrize("via", ["check_spikes", "tick"])
def test_a_spike_is_sent_once_with_the_newest_articles(
    store: SearchStore, alerts: SqliteAlertStore, receiver: WebhookReceiver, via: str
):
    """Seven cycling stories in the 14-day baseline (0.5 a day: the threshold is 5), six in
    the last 24 hours: a spike; sailing has its usual one a day: none."""
    history = [published("old", "Sailing long ago", START - timedelta(days=20))]
    baseline = [
        published(f"base-{n}", f"Cycling note {n}", START - timedelta(days=2 + 2 * n))
        for n in range(7)
    ]
    recent = [
        published(f"new-{n}", f"Cycling news {n}", START - timedelta(hours=2 + 3 * n))
        for n in range(6)
    ]
    sailing = [
        published(f"sail-{n}", f"Sailing day {n}", START - timedelta(days=n, hours=1))
        for n in range(15)
    ]
    store.upsert(history + baseline + recent + sailing)
    cycling = saved(alerts, receiver)
    calm = saved(alerts, receiver, q="sailing")
    paused = saved(alerts, receiver, paused=True)
    clock = Clock(START)
    deliverer = Deliverer(alerts, store, settings(), clock=clock)
    if via == "tick":
        for _ in range(5):  # a round is checked a slice per pass
            deliverer.tick()
    else:
        deliverer.check_spikes(alerts.list())
    [spike] = receiver.received
    assert spike.signed
    assert spike.json["id"] == cycling.id
    assert spike.json["event"] == "spike"
    assert spike.headers["x-newsagg-event"] == "spike"
    assert spike.json["spike"]["last_24h"] == 6
    assert spike.json["spike"]["threshold"] == 5
    assert "Poisson" in spike.json["spike"]["rule"]
    assert [a["title"] for a in spike.json["articles"]][:6] == [a.title for a in recent]
    assert alerts.get(cycling.id).last_spike_at == START
    assert alerts.get(calm.id).last_spike_at is None
    assert alerts.get(paused.id).last_spike_at is None
    clock.now += timedelta(hours=3)
    deliverer.check_spikes(alerts.list())
    assert len(receiver.received) == 1  # the same spike is not sent again


def test_more_matches_than_one_delivery_holds_go_in_the_next_passes(
    store: SearchStore,
    alerts: SqliteAlertStore,
    receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr("newsagg.alerts.delivery.DELIVERY_LIMIT", 2)
    search = saved(alerts, receiver)
    items = [article(f"a{n}", f"Cycling day {n}") for n in range(5)]
    matched(store, alerts, search, *items)
    deliverer = Deliverer(alerts, store, settings(), clock=Clock(START))
    for _ in range(3):
        deliverer.tick()  # the first pass finds them; a full delivery wakes the next
    sizes = [len(r.json["articles"]) for r in receiver.received]
    assert sizes == [2, 2, 1]
    assert len({r.delivery for r in receiver.received}) == 3
    sent = [a["id"] for r in receiver.received for a in r.json["articles"]]
    assert sorted(sent) == sorted(a.id for a in items)
    assert alerts.pending(search.id) == []


def test_a_search_paused_between_reads_is_not_retried(
    store: SearchStore, alerts: SqliteAlertStore, receiver: WebhookReceiver
):
    """The loop re-reads every saved search only now and then; what it acts on it reads
    afresh, so a pause stored since the last read holds."""
    search = saved(alerts, receiver)
    matched(store, alerts, search, article("a", "Cycling in Goa"))
    receiver.status = 500
    clock = Clock(START)
    deliverer = Deliverer(alerts, store, settings(), clock=clock)
    deliverer.tick()
    assert len(receiver.received) == 1
    stored = alerts.get(search.id)
    alerts.update(stored.model_copy(update={"paused": True}))
    clock.now = stored.next_attempt_at + timedelta(seconds=1)
    time.sleep(0.2)  # past FRESH_FOR, within the list interval: the list is not re-read
    deliverer.tick()
    assert len(receiver.received) == 1
    assert alerts.get(search.id).paused


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # loopback only
@pytest.mark.parametrize(("password", "delivered"), [("s3cret", True), ("wrong", False)])
def test_email_logs_in_when_a_user_is_set(
    store: SearchStore, alerts: SqliteAlertStore, password: str, delivered: bool
):
    with smtp_server(login=("alerts", "s3cret")) as (port, mailbox):
        search = saved(alerts, None, emails=("desk@example.com",))
        matched(store, alerts, search, article("a", "Cycling in Goa"))
        config = settings(
            smtp_host="127.0.0.1", smtp_port=port, smtp_username="alerts", smtp_password=password
        )
        Deliverer(alerts, store, config, clock=Clock(START)).deliver(alerts.get(search.id))
    assert len(mailbox) == (1 if delivered else 0)
    after = alerts.get(search.id)
    assert (after.attempts, after.last_error is None) == ((0, True) if delivered else (1, False))


def test_each_worker_delivers_the_searches_of_its_shard(
    store: SearchStore, alerts: SqliteAlertStore, receiver: WebhookReceiver
):
    searches = [saved(alerts, receiver) for _ in range(8)]
    for search in searches:
        matched(store, alerts, search, article("a", "Cycling in Goa"))
    delivered_by = {}
    for shard in (0, 1):
        before = len(receiver.received)
        config = settings(alerts_shards=2, alerts_shard=shard)
        Deliverer(alerts, store, config, clock=Clock(START)).tick()
        delivered_by[shard] = {r.json["id"] for r in receiver.received[before:]}
    assert delivered_by[0] | delivered_by[1] == {s.id for s in searches}
    assert not delivered_by[0] & delivered_by[1]
    for shard, ids in delivered_by.items():
        assert all(shard_of(search_id, 2) == shard for search_id in ids)


def test_stopping_while_an_article_is_awaited_leaves_the_delivery_open(
    store: SearchStore, alerts: SqliteAlertStore, receiver: WebhookReceiver
):
    """Not closed with an article missing (it would never be sent): the next run sends
    the same delivery."""
    search = saved(alerts, receiver)
    late = article("a", "Cycling in Goa")
    alerts.add_matches([Match(search_id=search.id, article_id=late.id, matched_at=START)])
    stop = threading.Event()
    stop.set()
    with pytest.raises(Interrupted):
        Deliverer(alerts, store, settings(), stop=stop, clock=Clock(START)).deliver(
            alerts.get(search.id)
        )
    assert receiver.received == []
    [waiting] = alerts.pending(search.id)
    assert waiting.delivery_id is not None
    store.upsert([late])
    Deliverer(alerts, store, settings(), clock=Clock(START)).deliver(alerts.get(search.id))
    [got] = receiver.received
    assert got.delivery == waiting.delivery_id
    assert [a["id"] for a in got.json["articles"]] == [late.id]


def test_a_pass_prunes_matches_older_than_the_retention(
    store: SearchStore, alerts: SqliteAlertStore, receiver: WebhookReceiver
):
    """Delivered matches and a feed-only search's go after the retention; the matches of a
    search whose webhook fails stay, to be delivered when it answers."""
    hooked = saved(alerts, receiver)
    feed_only = saved(alerts, None, name="feed")
    failing = saved(alerts, None, name="down", webhook_url="http://127.0.0.1:9/hook")
    old = [article("a", "Cycling in Goa"), article("b", "Cycling in Pune")]
    for search in (hooked, feed_only, failing):
        matched(store, alerts, search, *old)
    deliverer = Deliverer(
        alerts,
        store,
        settings(alerts_match_retention_days=2, alerts_webhook_timeout=1.0),
        clock=Clock(START),
    )
    pruned = REGISTRY.get_sample_value("newsagg_alerts_matches_pruned_total") or 0.0
    deliverer.tick()  # delivers hooked's two; failing's attempt fails; nothing is old yet
    assert len(receiver.accepted()) == 1
    assert [len(alerts.matches(s.id)) for s in (hooked, feed_only, failing)] == [2, 2, 2]

    deliverer.clock = Clock(START + timedelta(days=3))
    deliverer._next_prune = float("-inf")  # the next hourly prune is due
    deliverer.tick()
    assert [len(alerts.matches(s.id)) for s in (hooked, feed_only, failing)] == [0, 0, 2]
    assert len(alerts.pending(failing.id)) == 2
    assert REGISTRY.get_sample_value("newsagg_alerts_matches_pruned_total") == pruned + 4
