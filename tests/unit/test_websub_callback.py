"""WebSub's pieces in one process: hub discovery in feeds, the hub address rules, the
callback's answers and what the crawl state keeps (the real crawler: tests/integration)."""

import hashlib
import hmac
import time

import pytest
from newsagg.core.settings import Settings
from newsagg.core.sources import Source
from newsagg.crawler.state import CrawlState, WebSubSubscription
from newsagg.crawler.websub import WebSub, hub_links, hub_refusal

FEED = "http://127.0.0.1:8999/feed.xml"


def rss(links: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">'
        f"<channel><title>t</title>{links}<item><link>http://x/1</link></item></channel></rss>"
    ).encode()


def test_hub_and_self_from_an_rss_feed():
    body = rss('<atom:link rel="hub" href="/hub"/><atom:link rel="self" href="/feed.xml"/>')
    assert hub_links(body, [], FEED) == ("http://127.0.0.1:8999/hub", FEED)


def test_hub_named_with_single_quotes_after_href():
    body = rss("<atom:link href='http://a.example/h' rel='hub' />")
    assert hub_links(body, [], FEED) == ("http://a.example/h", None)


def test_hub_from_an_atom_feed_and_the_link_header_first():
    body = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><link rel="hub" href="http://a.example/h"/>'
        b"</feed>"
    )
    assert hub_links(body, [], FEED) == ("http://a.example/h", None)
    header = b'<http://b.example/hub>; rel="hub", <http://b.example/f>; rel="self"'
    assert hub_links(body, [header], FEED) == ("http://b.example/hub", "http://b.example/f")


def test_no_hub_in_a_plain_or_broken_feed():
    assert hub_links(rss(""), [], FEED) == (None, None)
    assert hub_links(b"<rss><channel>", [], FEED) == (None, None)


def source(allow_private: bool) -> Source:
    return Source(name="s", feeds=[FEED], allow_private=allow_private)


def test_a_hub_on_a_private_address_follows_the_rules_of_feeds():
    own = "http://127.0.0.1:8999/hub"
    assert hub_refusal(own, source(allow_private=True)) is None
    assert "non-public" in (hub_refusal(own, source(allow_private=False)) or "")
    assert "own hosts" in (hub_refusal("http://127.0.0.1:9000/hub", source(True)) or "")
    assert "never" in (hub_refusal("http://169.254.169.254/hub", source(True)) or "")
    assert "http(s)" in (hub_refusal("file:///etc/passwd", source(True)) or "")


@pytest.fixture
def websub(tmp_path):
    state = CrawlState(tmp_path / "state.sqlite")
    crawled: list[str] = []
    settings = Settings(websub_callback_url="http://127.0.0.1:1/cb", max_page_bytes=1000)
    sub = WebSubSubscription(FEED, "s", "http://127.0.0.1:8999/hub", "tok", "k3y", "requested", 0)
    state.save_subscription(sub)
    yield WebSub(settings, state, [source(True)], crawled.append), state, crawled
    state.close()


def test_verification_only_for_the_topic_asked_for(websub, monkeypatch):
    hub, state, _ = websub
    monkeypatch.setattr(hub, "_schedule_renewal", lambda sub: None)  # no reactor here
    ask = {"hub.mode": "subscribe", "hub.topic": FEED, "hub.challenge": "c1"}
    assert hub.verify("tok", {**ask, "hub.topic": "http://127.0.0.1:8999/other"})[0] == 404
    assert hub.verify("nope", ask)[0] == 404
    assert hub.verify("tok", {**ask, "hub.mode": "unsubscribe"})[0] == 404
    assert hub.verify("tok", {**ask, "hub.lease_seconds": "60"}) == (200, b"c1")
    kept = state.subscriptions()["tok"]
    assert kept.status == "active"
    assert kept.lease_seconds == 60
    assert kept.expires_at == pytest.approx(time.time() + 60, abs=5)


def test_a_notification_needs_the_secret(websub):
    hub, _, crawled = websub
    body = b"<rss/>"
    good = "sha256=" + hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
    assert hub.notified("tok", body, None) == 403
    assert hub.notified("tok", body, "sha256=" + "0" * 64) == 403
    assert hub.notified("tok", body + b" ", good) == 403
    assert hub.notified("tok", body, "md5=" + hashlib.md5(body).hexdigest()) == 403
    assert hub.notified("other", body, good) == 404
    assert crawled == []
    assert hub.notified("tok", body, good) == 202
    sha1 = "sha1=" + hmac.new(b"k3y", body, hashlib.sha1).hexdigest()
    assert hub.notified("tok", body, sha1) == 202
    assert crawled == ["s", "s"]


def test_a_denial_is_kept(websub):
    hub, state, _ = websub
    assert hub.verify("tok", {"hub.mode": "denied", "hub.topic": FEED})[0] == 200
    assert state.subscriptions()["tok"].status == "denied"
