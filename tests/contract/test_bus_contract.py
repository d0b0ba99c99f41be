"""What every Bus adapter promises: ordered keyed log, consumer groups, commit-after-success."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from newsagg.core.ports import Bus, dead_letter_topic, publish_dead_letter
from support.bus import drain


def test_messages_arrive_in_order_with_key_value_and_headers(bus: Bus, topic: str):
    for i in range(5):
        bus.publish(topic, "story-1", f"v{i}".encode(), {"n": str(i)})
    bus.flush()
    consumer = bus.consumer(topic, "g")
    got = drain(consumer, 5)
    consumer.close()
    assert [m.value for m in got] == [f"v{i}".encode() for i in range(5)]
    assert {m.key for m in got} == {"story-1"}
    assert [m.headers["n"] for m in got] == [str(i) for i in range(5)]
    assert all(m.topic == topic for m in got)


def test_poll_returns_empty_when_nothing_is_there(bus: Bus, topic: str):
    bus.publish(topic, "k", b"first")
    bus.flush()
    consumer = bus.consumer(topic, "g")
    assert len(drain(consumer, 1)) == 1
    assert consumer.poll(10, timeout=0.2) == []
    consumer.close()


def test_group_resumes_after_committed_offset(bus: Bus, topic: str):
    for i in range(4):  # one key: order is promised per key, not across keys
        bus.publish(topic, "k", f"v{i}".encode())
    bus.flush()
    first = bus.consumer(topic, "g")
    got = drain(first, 4)
    first.commit(got[:2])
    first.close()
    second = bus.consumer(topic, "g")
    rest = drain(second, 2)
    second.close()
    assert [m.value for m in rest] == [b"v2", b"v3"]


def test_uncommitted_messages_are_redelivered(bus: Bus, topic: str):
    bus.publish(topic, "k", b"v")
    bus.flush()
    first = bus.consumer(topic, "g")
    assert len(drain(first, 1)) == 1
    first.close()  # crashed before committing
    second = bus.consumer(topic, "g")
    assert [m.value for m in drain(second, 1)] == [b"v"]
    second.close()


def test_groups_are_independent(bus: Bus, topic: str):
    bus.publish(topic, "k", b"v")
    bus.flush()
    a, b = bus.consumer(topic, "a"), bus.consumer(topic, "b")
    got_a = drain(a, 1)
    a.commit(got_a)
    assert [m.value for m in drain(b, 1)] == [b"v"]
    a.close()
    b.close()


def test_lag_counts_uncommitted_messages(bus: Bus, topic: str):
    for i in range(3):
        bus.publish(topic, "k", str(i).encode())
    bus.flush()
    consumer = bus.consumer(topic, "g")
    got = drain(consumer, 3)
    assert sum(consumer.lag().values()) == 3
    consumer.commit(got)
    assert sum(consumer.lag().values()) == 0
    consumer.close()


def test_committed_offsets_never_move_backwards(bus: Bus, topic: str):
    for i in range(3):
        bus.publish(topic, "k", str(i).encode())
    bus.flush()
    consumer = bus.consumer(topic, "g")
    got = drain(consumer, 3)
    consumer.commit(got)
    consumer.commit(got[:1])
    assert sum(consumer.lag().values()) == 0
    consumer.close()


def test_dead_letter_keeps_key_value_and_reason(bus: Bus, topic: str):
    bus.publish(topic, "bad-key", b"\x00not json", {"trace": "t1"})
    bus.flush()
    consumer = bus.consumer(topic, "g")
    (message,) = drain(consumer, 1)
    publish_dead_letter(bus, message, "not a valid Article: text: missing")
    bus.flush()
    consumer.close()
    dlq = bus.consumer(dead_letter_topic(topic), "inspect")
    (dead,) = drain(dlq, 1)
    dlq.close()
    assert (dead.key, dead.value) == ("bad-key", b"\x00not json")
    assert dead.headers["error"] == "not a valid Article: text: missing"
    assert dead.headers["source_topic"] == topic
    assert dead.headers["source_offset"] == str(message.offset)
    assert dead.headers["source_partition"] == str(message.partition)
    assert dead.headers["trace"] == "t1"
    assert "failed_at" in dead.headers


def test_log_survives_reopening(open_bus_fn, topic: str):
    first = open_bus_fn()
    first.publish(topic, "k", b"durable")
    first.flush()
    consumer = first.consumer(topic, "g")
    consumer.commit(drain(consumer, 1))
    consumer.close()
    first.publish(topic, "k", b"after-commit")
    first.flush()
    first.close()
    second = open_bus_fn()
    consumer = second.consumer(topic, "g")
    assert [m.value for m in drain(consumer, 1)] == [b"after-commit"]
    consumer.close()
    second.close()


_CONSUMER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from newsagg.core.adapters import open_bus
    url, topic, out, producer_done = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
    bus = open_bus(url)
    consumer = bus.consumer(topic, "shared")
    deadline = time.monotonic() + 90
    with out.open("a") as seen:
        while time.monotonic() < deadline:
            batch = consumer.poll(50, timeout=0.5)
            seen.writelines(m.value.decode() + "\\n" for m in batch)
            seen.flush()
            consumer.commit(batch)
            finished = producer_done.read_text() == "done"
            if not batch and finished and sum(consumer.lag().values()) == 0:
                break
    consumer.close()
    bus.close()
    """
)

_PRODUCER = textwrap.dedent(
    """
    import sys
    from newsagg.core.adapters import open_bus
    url, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    bus = open_bus(url)
    for i in range(count):
        bus.publish(topic, f"k{i % 7}", str(i).encode())
    bus.flush()
    bus.close()
    """
)


def test_one_producer_and_two_consumer_processes(bus_url: str, topic: str, tmp_path: Path):
    """Every message is processed by the group; with clean commits, exactly once."""
    count = 300
    outs = [tmp_path / "c1.txt", tmp_path / "c2.txt"]
    done_flag = tmp_path / "producer-done.txt"
    done_flag.write_text("")
    consumers = [
        subprocess.Popen(
            [sys.executable, "-c", _CONSUMER, bus_url, topic, str(out), str(done_flag)]
        )
        for out in outs
    ]
    producer = subprocess.run(
        [sys.executable, "-c", _PRODUCER, bus_url, topic, str(count)], timeout=120, check=True
    )
    assert producer.returncode == 0
    done_flag.write_text("done")
    for process in consumers:
        assert process.wait(timeout=120) == 0
    seen = [line for out in outs if out.exists() for line in out.read_text().split()]
    assert sorted(seen, key=int) == [str(i) for i in range(count)]
