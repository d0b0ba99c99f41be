"""A real Apache Kafka broker for the tests: deploy/local/launch.py, or NEWSAGG_TEST_KAFKA_URL.

The broker is started once per session, on first use, and only by tests that ask
for it; the Maven fetch is cached under .cache/local, so only a fresh clone downloads.
Tests that use these fixtures are marked `jvm` by tests/conftest.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from support.launcher import start_kafka


@pytest.fixture(scope="session")
def kafka_url() -> Iterator[str]:
    """kafka://host:port of a running broker shared by the session."""
    given = os.environ.get("NEWSAGG_TEST_KAFKA_URL")
    if given:
        yield given
        return
    broker = start_kafka()
    try:
        yield broker.url
    finally:
        broker.close()


@pytest.fixture
def private_kafka() -> Iterator[Any]:
    """A broker of the test's own, for tests that restart it or need an empty `articles`."""
    broker = start_kafka()
    try:
        yield broker
    finally:
        broker.close()
