"""The reliability harness's webhook receiver counts what the saved search was delivered:
a resend of one delivery is at-least-once, one article under two delivery ids is a
duplicate, a POST answered 500 delivered nothing, a forged signature is caught, and an
outage that refuses connections ends on the same port (the saved webhook URL holds)."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from reliability.alerts import DeliveryCount, Receiver

SEARCH = "ss_0123456789abcdef"
SECRET = "s3cret"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    running.search_id, running.secret = SEARCH, SECRET
    yield running
    running.stop()


def post(receiver: Receiver, delivery: str, articles: list[str], secret: str = SECRET) -> int:
    body = json.dumps({"id": SEARCH, "articles": [{"id": a} for a in articles]}).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        receiver.url,
        data=body,
        headers={
            "X-Newsagg-Delivery": delivery,
            "X-Newsagg-Event": "matches",
            "X-Newsagg-Signature": signature,
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_resend_is_not_a_duplicate_but_a_second_delivery_id_is(receiver: Receiver):
    assert post(receiver, "dl_1", ["a", "b"]) == 200
    assert post(receiver, "dl_1", ["a", "b"]) == 200  # the worker died before closing it
    assert post(receiver, "dl_2", ["b"]) == 200
    count = receiver.count(frozenset({"a", "b", "c"}))
    assert count == DeliveryCount(delivered=2, lost=1, duplicated=1, unsigned=0, resent=1)
    assert not count.complete


def test_a_delivery_answered_500_delivered_nothing(receiver: Receiver):
    receiver.answer(500)
    assert post(receiver, "dl_1", ["a"]) == 500
    assert receiver.count(frozenset({"a"})) == DeliveryCount(0, 1, 0, 0)
    receiver.answer(200)
    assert post(receiver, "dl_1", ["a"]) == 200  # the retry: same id, same articles
    assert receiver.count(frozenset({"a"})) == DeliveryCount(1, 0, 0, 0, resent=1)


def test_a_signature_under_another_key_is_counted(receiver: Receiver):
    post(receiver, "dl_1", ["a"], secret="not-the-secret")
    assert receiver.count(frozenset({"a"})).unsigned == 1


def test_a_refusing_receiver_comes_back_on_its_port(receiver: Receiver):
    url = receiver.url
    receiver.refuse()
    with pytest.raises(urllib.error.URLError):
        post(receiver, "dl_1", ["a"])
    receiver.start()
    assert receiver.url == url
    assert post(receiver, "dl_1", ["a"]) == 200
    assert receiver.count(frozenset({"a"})).complete
