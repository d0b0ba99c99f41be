"""Failures on a real Kafka broker: an indexer killed mid-stream, a broker restarted mid-stream.

Each test has a broker of its own, so the `articles` topic holds exactly what it published.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from newsagg.core.adapters import open_bus
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.article import Article
from newsagg.core.ports import ARTICLES_TOPIC, Bus
from support.servers import Service, wait_until

pytestmark = pytest.mark.e2e
BATCH = 5


def articles(count: int, source: str) -> list[Article]:
    return [
        Article.create(
            url=f"https://{source}.example/story/{n}",
            source=source,
            title=f"Story {n} of {source}",
            text=f"Body of story number {n}, published while things go wrong.",
        )
        for n in range(count)
    ]


class Publisher(threading.Thread):
    """Publishes articles at a steady rate from this process, then flushes."""

    def __init__(self, url: str, items: list[Article], per_second: float) -> None:
        super().__init__(daemon=True)
        self.url, self.items, self.interval = url, items, 1 / per_second
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            bus = open_bus(self.url)
            for article in self.items:
                bus.publish(ARTICLES_TOPIC, article.id, article.to_json())
                self.sent += 1
                time.sleep(self.interval)
            bus.flush()
            bus.close()
        except BaseException as exc:
            self.error = exc

    def finish(self, timeout: float) -> None:
        self.join(timeout)
        assert not self.is_alive(), "the publisher did not finish"
        assert self.error is None, repr(self.error)


def indexer_env(url: str, root: Path, name: str) -> dict[str, str]:
    (root / name).mkdir(parents=True, exist_ok=True)
    return {
        "NEWSAGG_BUS_URL": url,
        "NEWSAGG_DATA_DIR": str(root / name),
        "NEWSAGG_STORE_URL": f"tantivy:///{root / name / 'index'}",
        "NEWSAGG_INDEXER_BATCH_SIZE": str(BATCH),
        "NEWSAGG_INDEXER_METRICS_PORT": "0",
        "NEWSAGG_INDEXER_MAX_RETRY_DELAY": "1",
        "NEWSAGG_KAFKA_SESSION_TIMEOUT": "6",
    }


@pytest.fixture
def indexers(tmp_path: Path) -> Iterator[Callable[[str, str], Service]]:
    """Start `newsagg index` processes, each on an index of its own; stop them all at the end."""
    started: list[Service] = []

    def start(url: str, name: str) -> Service:
        service = Service(["index"], indexer_env(url, tmp_path, name), tmp_path / name)
        started.append(service)
        return service

    yield start
    for service in started:
        if service.running:
            service.stop()


@pytest.fixture
def lag_of() -> Iterator[Callable[[str], Callable[[], int]]]:
    """lag_of(url)() is the indexer group's total lag; its bus is closed at the end."""
    opened: list[Bus] = []

    def lag_of(url: str) -> Callable[[], int]:
        opened.append(open_bus(url))
        bus = opened[-1]
        return lambda: sum(bus.group_lag(ARTICLES_TOPIC, "indexer").values())

    yield lag_of
    for bus in opened:
        bus.close()


def ids_in(index: Path, items: list[Article]) -> set[str]:
    reader = TantivyStore(index, writable=False, reload_interval=0)
    found = {a.id for a in items if reader.get(a.id) is not None}
    assert reader.count() == len(found), f"{index} holds a story twice"
    reader.close()
    return found


def test_two_indexers_split_the_partitions_and_one_takes_over_after_kill_9(
    private_kafka, indexers, lag_of, tmp_path: Path
):
    """The survivor finishes the dead one's partitions; nothing is lost.

    tantivy allows one writer per index, so each indexer writes its own index (in
    production they share one Elasticsearch index). At least once means the batch the
    killed indexer had written but not committed is delivered again to the survivor;
    so the union of the two indexes must hold every article, each index holds each
    article at most once, and the two overlap in at most that one batch: merged by
    id, the final state holds every article exactly once.
    """
    url = private_kafka.url
    items = articles(600, "failover")
    first, second = indexers(url, "a"), indexers(url, "b")
    for indexer in (first, second):
        wait_until(lambda i=indexer: "assigned [" in i.log(), 60, f"{indexer.log_path} to join")
    publisher = Publisher(url, items, per_second=100)
    publisher.start()
    wait_until(lambda: "indexed" in first.log() and "indexed" in second.log(), 30, "both indexing")
    wait_until(lambda: publisher.sent >= 200, 30, "a third of the stream")
    first.kill9()
    lag = lag_of(url)
    publisher.finish(60)
    wait_until(lambda: lag() == 0, 120, "the survivor to take over and catch up")
    assert second.stop() == 0, second.log()

    in_first, in_second = (
        ids_in(tmp_path / "a" / "index", items),
        ids_in(tmp_path / "b" / "index", items),
    )
    assert in_first | in_second == {a.id for a in items}
    assert 0 < len(in_first) < len(items), "the kill did not land mid-stream"
    assert len(in_first & in_second) <= BATCH


def test_producer_and_indexer_ride_out_a_broker_restart(
    private_kafka, indexers, lag_of, tmp_path: Path
):
    url = private_kafka.url
    items = articles(400, "restart")
    indexer = indexers(url, "idx")
    wait_until(lambda: "assigned [" in indexer.log(), 60, "the indexer to join")
    publisher = Publisher(url, items, per_second=50)
    publisher.start()
    wait_until(lambda: publisher.sent >= 100, 30, "a quarter of the stream")
    private_kafka.restart()
    publisher.finish(120)
    lag = lag_of(url)
    wait_until(lambda: lag() == 0, 120, "the indexer to catch up after the restart")
    assert indexer.running, indexer.log()
    assert indexer.stop() == 0
    bus = open_bus(url)
    assert bus.topic_size(ARTICLES_TOPIC) == len(items)  # idempotent producer: no duplicates
    bus.close()
    assert ids_in(tmp_path / "idx" / "index", items) == {a.id for a in items}
