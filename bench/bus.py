"""Produce and consume throughput of the Bus adapters with 5 KB article-sized messages.

.venv/bin/python bench/bus.py [--quick] [--messages 20000] [--url sqlite:///...]

Not an issue-16 target (no peer): a row in `make bench` so the Bus adapters' speed is on
record beside the rest. --quick sends 500 messages through the same code path.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid

from _report import report
from newsagg.core.adapters import open_bus


def measure(url: str, messages: int, size: int) -> dict[str, object]:
    bus = open_bus(url)
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    payload = os.urandom(size // 2).hex().encode()
    started = time.perf_counter()
    for i in range(messages):
        bus.publish(topic, f"key-{i % 1000}", payload)
    bus.flush()
    produce = time.perf_counter() - started
    consumer = bus.consumer(topic, "bench")
    started = time.perf_counter()
    seen = 0
    while seen < messages:
        batch = consumer.poll(500, timeout=5)
        if not batch:
            raise RuntimeError(f"only {seen} of {messages} messages came back")
        consumer.commit(batch)
        seen += len(batch)
    consume = time.perf_counter() - started
    consumer.close()
    bus.close()
    return {
        "adapter": url.split(":", 1)[0],
        "messages": messages,
        "produce msg/s": messages / produce,
        "consume+commit msg/s": messages / consume,
        "produce MB/s": messages * size / produce / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="500 messages (make bench-quick)")
    parser.add_argument("--messages", type=int, default=None, help="default 20,000")
    parser.add_argument("--size", type=int, default=5_000)
    parser.add_argument(
        "--url", action="append", help="bus URL (repeatable); default: a temp sqlite"
    )
    args = parser.parse_args()
    messages = args.messages or (500 if args.quick else 20_000)
    with tempfile.TemporaryDirectory() as tmp:
        urls = args.url or [f"sqlite:///{tmp}/bus.sqlite"]
        rows = [measure(url, messages, args.size) for url in urls]
    report("bus", rows, {"messages": messages, "bytes": args.size, "quick": args.quick})


if __name__ == "__main__":
    main()
