"""The crawler's one writer of the bus and of the crawl state's `seen` rows, on its own thread.

A durable write waits for the disk: the embedded bus syncs every message (fsync of its
WAL) and the crawl state synced every row. On the reactor thread those waits held up
fetching and the hand-off of pages to the extraction workers (a third of the reactor's
time in a 2,000-page crawl). Here they happen on one thread, a burst at a time: what
queued up while the last burst was written is published, the bus flushed once, and
the whole burst recorded in the crawl state in one transaction. So a page is marked
done only after the bus has it durably, as before; a crawler killed between the two
sends at most one burst again on its next pass (same ids: the index upserts them).

Each write is a Deferred that fires on the reactor thread once its burst is durable
and recorded, or fails with the burst's error (then nothing of the failed part is
recorded, and the next pass fetches those pages again).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from newsagg.core.ports import ARTICLES_TOPIC, Bus
from newsagg.crawler.metrics import BUS_PUBLISHED
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

log = logging.getLogger("newsagg.crawler")

MAX_BURST = 64
"""At most this many pages per flush and per crawl-state transaction: what one kill can
make the next pass send again."""


@dataclass(frozen=True)
class Sent:
    """A page the crawl state records as done: its key, content hash and article id."""

    key: str
    content_hash: str
    article_id: str


@dataclass
class _Entry:
    sent: Sent
    message: bytes | None
    """The article to publish first; None for a page found unchanged (only recorded)."""
    done: Deferred[None] = field(default_factory=Deferred)


def _on_reactor(call: Callable[..., Any], *args: Any) -> None:
    from twisted.internet import reactor  # imported late: Scrapy chooses the reactor

    reactor.callFromThread(call, *args)  # type: ignore[attr-defined]


class BusWriter:
    """Publishes articles and records them as done, in bursts, off the reactor thread.

    `record(sent)` is the crawl state's write of a burst (one transaction); it runs only
    after the bus flushed every article of the burst."""

    def __init__(self, bus: Bus, record: Callable[[Sequence[Sent]], None]) -> None:
        self.bus = bus
        self.record = record
        self._queue: queue.SimpleQueue[_Entry | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="bus-writer", daemon=True)
        self._thread.start()

    def publish(self, sent: Sent, message: bytes) -> Deferred[None]:
        """Publish the article under its id, then record the page; fires once both are done."""
        return self._put(_Entry(sent, message))

    def unchanged(self, sent: Sent) -> Deferred[None]:
        """Record a page found unchanged since the last crawl (nothing to publish)."""
        return self._put(_Entry(sent, None))

    def _put(self, entry: _Entry) -> Deferred[None]:
        if not self._thread.is_alive():
            raise RuntimeError("the bus writer is closed")
        self._queue.put(entry)
        return entry.done

    def close(self) -> None:
        """Write what is queued, then stop the thread (the bus stays open: the caller's)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            burst: list[_Entry] = []
            entry = first
            while entry is not None:
                burst.append(entry)
                if len(burst) >= MAX_BURST:
                    break
                try:
                    entry = self._queue.get_nowait()
                except queue.Empty:
                    break
            stopping = entry is None
            if burst:
                self._write(burst)

    def _write(self, burst: list[_Entry]) -> None:
        try:
            for entry in burst:
                if entry.message is not None:
                    self.bus.publish(ARTICLES_TOPIC, entry.sent.article_id, entry.message)
                    BUS_PUBLISHED.labels(ARTICLES_TOPIC).inc()
            self.bus.flush()
            self.record([entry.sent for entry in burst])
        except Exception as exc:  # the bus or the state failed: not done, fetched next pass
            log.error("writing %d articles to the bus failed: %s", len(burst), exc)
            for entry in burst:
                _on_reactor(entry.done.errback, Failure(exc))
            return
        for entry in burst:
            _on_reactor(entry.done.callback, None)
