"""Produce and consume throughput of the Bus adapters with 5 KB article-sized messages.

.venv/bin/python bench/bus.py [--messages 20000] [--url sqlite:///...]
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
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=5_000)
    parser.add_argument(
        "--url", action="append", help="bus URL (repeatable); default: a temp sqlite"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        urls = args.url or [f"sqlite:///{tmp}/bus.sqlite"]
        rows = [measure(url, args.messages, args.size) for url in urls]
    report("bus", rows, {"messages": args.messages, "bytes": args.size})


if __name__ == "__main__":
    main()
