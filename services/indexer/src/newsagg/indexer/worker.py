"""The indexer's loop: consume a batch, validate, upsert, and only then commit.

Delivery is at least once: offsets move only after the store acknowledged the
batch (and the dead letters of the batch are on the bus), and upserts are
idempotent, so a crash anywhere re-delivers work without duplicating it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from newsagg.core.article import Article
from newsagg.core.metrics import ARTICLES, BATCH_SECONDS, CONSUMER_LAG, STORE_RETRIES
from newsagg.core.ports import (
    Bus,
    BusUnavailable,
    Consumer,
    Message,
    SearchStore,
    StoreRejected,
    StoreUnavailable,
    publish_dead_letter,
)
from pydantic import ValidationError

log = logging.getLogger("newsagg.indexer")
T = TypeVar("T")


class Stopped(Exception):
    """Asked to stop while waiting for the store or bus to come back."""


def decode(message: Message) -> Article:
    """The Article a message carries; ValueError (with the reason) when it carries none."""
    try:
        return Article.from_json(message.value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'message'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise ValueError(f"not a valid Article: {problems}") from exc


class Indexer:
    def __init__(
        self,
        bus: Bus,
        consumer: Consumer,
        store: SearchStore,
        *,
        batch_size: int = 200,
        max_retry_delay: float = 30.0,
        stop: threading.Event | None = None,
    ) -> None:
        self.bus = bus
        self.consumer = consumer
        self.store = store
        self.batch_size = batch_size
        self.max_retry_delay = max_retry_delay
        self.stop = stop or threading.Event()

    def run(self) -> None:
        """Index until `stop` is set; the batch in hand is finished or left uncommitted."""
        try:
            self._retrying(self.store.ensure_schema, "open the store")
            while not self.stop.is_set():
                messages = self._retrying(
                    lambda: self.consumer.poll(self.batch_size, timeout=1.0), "poll the bus"
                )
                if messages:
                    self.process(messages)
        except Stopped:
            log.info("stopped before the current batch was committed; it will be redelivered")

    def process(self, messages: Sequence[Message]) -> None:
        """Handle one batch: upsert the valid, dead-letter the invalid, then commit all."""
        started = time.perf_counter()
        decoded: list[tuple[Message, Article]] = []
        rejected: list[tuple[Message, str]] = []
        for message in messages:
            try:
                decoded.append((message, decode(message)))
            except ValueError as exc:
                rejected.append((message, str(exc)))
        articles = [article for _, article in decoded]
        if articles:
            rejected.extend(self._upsert(decoded))
        for message, reason in rejected:
            self._retrying(
                lambda m=message, r=reason: publish_dead_letter(self.bus, m, r),
                "dead-letter a message",
            )
            ARTICLES.labels("index", "dead_letter").inc()
            log.warning("dead-lettered %s@%s: %s", message.topic, message.offset, reason)
        self._retrying(lambda: self.consumer.commit(messages), "commit offsets")
        ARTICLES.labels("index", "ok").inc(len(messages) - len(rejected))
        BATCH_SECONDS.observe(time.perf_counter() - started)
        self._report_lag()
        log.info("indexed %d articles, %d dead-lettered", len(articles), len(rejected))

    def _upsert(self, decoded: list[tuple[Message, Article]]) -> list[tuple[Message, str]]:
        """Write the batch; the messages of articles the store refused for good, with why."""
        try:
            self._retrying(
                lambda: self.store.upsert([article for _, article in decoded]), "write the batch"
            )
        except StoreRejected as exc:
            return [
                (message, f"the store refused it: {exc.reasons[article.id]}")
                for message, article in decoded
                if article.id in exc.reasons
            ]
        return []

    def _report_lag(self) -> None:
        """A metric, not the work: a bus that cannot tell its lag right now must not stop us."""
        try:
            lags = self.consumer.lag()
        except BusUnavailable as exc:
            log.debug("lag unknown: %s", exc)
            return
        for partition, lag in lags.items():
            CONSUMER_LAG.labels(str(partition)).set(lag)

    def _retrying(self, action: Callable[[], T], what: str) -> T:
        """Run action until it succeeds, backing off while the store or bus is unavailable.

        Raises Stopped when asked to stop first: the batch stays uncommitted. DataCorrupted
        is not waited on: damage does not heal, so it goes up and stops the indexer.
        """
        delay = 0.5
        while True:
            try:
                return action()
            except (StoreUnavailable, BusUnavailable) as exc:
                STORE_RETRIES.inc()
                log.warning("cannot %s (%s); retrying in %.1fs", what, exc, delay)
            if self.stop.wait(delay):
                raise Stopped
            delay = min(delay * 2, self.max_retry_delay)
