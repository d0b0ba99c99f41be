"""KafkaBus behaviour beyond the Bus contract, on a real broker: size limit, outages, topics."""

from __future__ import annotations

import time
import uuid

import pytest
from newsagg.core.adapters import open_bus
from newsagg.core.adapters.kafka_bus import KafkaBus
from newsagg.core.ports import BusUnavailable, dead_letter_topic
from newsagg.core.settings import Settings
from support.bus import drain
from support.servers import free_port


@pytest.fixture
def topic() -> str:
    return f"kafka-{uuid.uuid4().hex[:12]}"


def test_topics_are_created_with_the_configured_partitions(kafka_url: str, topic: str):
    bus = KafkaBus.from_url(kafka_url, Settings(kafka_partitions=3))
    bus.consumer(topic, "g").close()
    assert set(bus.group_lag(topic, "g")) == {0, 1, 2}
    assert set(bus.group_lag(dead_letter_topic(topic), "g")) == {0, 1, 2}
    bus.close()


def test_a_message_over_the_size_limit_goes_to_the_dead_letter_topic(kafka_url: str, topic: str):
    bus = KafkaBus.from_url(kafka_url, Settings(kafka_max_message_bytes=100_000))
    big = b"x" * 300_000
    bus.publish(topic, "big-story", big, {"trace": "t1"})
    bus.publish(topic, "next-story", b"small")
    bus.flush()
    assert bus.topic_size(topic) == 1  # the stream goes on without it
    dlq = bus.consumer(dead_letter_topic(topic), "inspect")
    (dead,) = drain(dlq, 1)
    dlq.close()
    bus.close()
    assert (dead.key, dead.value) == ("big-story", big)  # kept whole for inspection
    assert "300" in dead.headers["error"]
    assert "100000-byte limit" in dead.headers["error"]
    assert "NEWSAGG_KAFKA_MAX_MESSAGE_BYTES" in dead.headers["error"]
    assert dead.headers["source_topic"] == topic
    assert dead.headers["trace"] == "t1"


def test_an_unreachable_broker_fails_publish_in_bounded_time():
    bus = KafkaBus.from_url(f"kafka://127.0.0.1:{free_port()}", Settings(kafka_delivery_timeout=2))
    started = time.monotonic()
    with pytest.raises(BusUnavailable):
        bus.publish("articles", "k", b"v")
    assert time.monotonic() - started < 15
    assert not bus.health()
    bus.close()


def test_messages_published_while_the_broker_is_down_are_delivered_after(
    private_kafka, topic: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("NEWSAGG_KAFKA_DELIVERY_TIMEOUT", "3")
    bus = open_bus(private_kafka.url)
    bus.publish(topic, "k", b"before")
    bus.flush()
    private_kafka.stop()
    bus.publish(topic, "k", b"during")
    started = time.monotonic()
    with pytest.raises(BusUnavailable, match="not acknowledged"):
        bus.flush()
    assert time.monotonic() - started < 30  # bounded: rounds of the delivery timeout
    private_kafka.start()
    bus.flush()
    consumer = bus.consumer(topic, "g")
    assert [m.value for m in drain(consumer, 2)] == [b"before", b"during"]
    consumer.close()
    bus.close()
