"""What every Bus adapter promises for operations: lag, size, and rewinding a stopped group."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from newsagg.core.ports import Bus, GroupActive
from support.bus import drain


def publish_and_consume(bus: Bus, topic: str, values: list[bytes]) -> None:
    for value in values:
        bus.publish(topic, "k", value)
    bus.flush()
    consumer = bus.consumer(topic, "g")
    consumer.commit(drain(consumer, len(values)))
    consumer.close()


def test_group_lag_and_topic_size_need_no_member(bus: Bus, topic: str):
    for i in range(3):
        bus.publish(topic, "k", str(i).encode())
    bus.flush()
    assert bus.topic_size(topic) == 3
    assert sum(bus.group_lag(topic, "never-ran").values()) == 3
    assert bus.topic_size(f"{topic}-nothing-published") == 0


def test_rewind_from_the_beginning_redelivers_everything(bus: Bus, topic: str):
    publish_and_consume(bus, topic, [b"a", b"b", b"c"])
    assert sum(bus.group_lag(topic, "g").values()) == 0
    lag = bus.rewind(topic, "g", None)
    assert sum(lag.values()) == 3
    consumer = bus.consumer(topic, "g")
    assert [m.value for m in drain(consumer, 3)] == [b"a", b"b", b"c"]
    consumer.close()


def test_rewind_since_a_time_redelivers_what_came_after(bus: Bus, topic: str):
    publish_and_consume(bus, topic, [b"old-1", b"old-2"])
    time.sleep(0.05)
    since = datetime.now(UTC)
    time.sleep(0.05)
    publish_and_consume(bus, topic, [b"new-1", b"new-2"])
    assert sum(bus.rewind(topic, "g", since).values()) == 2
    consumer = bus.consumer(topic, "g")
    assert [m.value for m in drain(consumer, 2)] == [b"new-1", b"new-2"]
    assert consumer.poll(10, timeout=0.3) == []
    consumer.close()
    assert sum(bus.rewind(topic, "g", datetime.now(UTC)).values()) == 0


def test_rewind_refuses_while_the_group_has_a_running_member(bus: Bus, topic: str):
    publish_and_consume(bus, topic, [b"a"])
    member = bus.consumer(topic, "g")
    drain(member, 1, timeout=2)  # joined and holding the group
    with pytest.raises(GroupActive):
        bus.rewind(topic, "g", None)
    member.close()
    assert sum(bus.rewind(topic, "g", None).values()) == 1
