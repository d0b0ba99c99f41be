"""Reading a bus topic in tests."""

from __future__ import annotations

import time

from newsagg.core.ports import Consumer, Message


def drain(consumer: Consumer, expected: int, timeout: float = 20.0) -> list[Message]:
    """Poll until `expected` messages arrived (or the timeout passed); commits nothing."""
    got: list[Message] = []
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        got.extend(consumer.poll(100, timeout=0.5))
    return got
