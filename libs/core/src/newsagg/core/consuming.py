"""What every consumer-group worker of the articles topic shares (the indexer, the alerts
worker): stopping on SIGTERM/SIGINT between batches, joining the group and retrying
outages with backoff, filling a batch, reading an Article off a message.

An outage (StoreUnavailable, BusUnavailable) is waited out with doubling delays; damage
(DataCorrupted) is not an outage and goes up at once; asked to stop while waiting, the
worker raises Stopped and leaves the batch in hand uncommitted, to be delivered again.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TypeVar

from newsagg.core.article import Article
from newsagg.core.ports import (
    Bus,
    BusUnavailable,
    Consumer,
    Message,
    StoreUnavailable,
)
from prometheus_client import Counter
from pydantic import ValidationError

T = TypeVar("T")
FIRST_RETRY_DELAY = 0.5
GAUGE_INTERVAL = 15.0
"""Seconds between reads of the gauges (lag, store size) while no message comes."""


class Stopped(Exception):
    """Asked to stop while waiting for the store or the bus to come back."""


def stop_on_signals(log: logging.Logger) -> threading.Event:
    """An event SIGTERM and SIGINT set: the worker finishes its batch, then returns."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("received %s: finishing the current batch", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop


def retrying(
    action: Callable[[], T],
    what: str,
    *,
    stop: threading.Event,
    max_delay: float,
    log: logging.Logger,
    retries: Counter | None = None,
) -> T:
    """Run action until it succeeds, backing off while the store or bus is unavailable;
    each outage counts in `retries` by what was out (label "store" or "bus"). Raises
    Stopped when asked to stop first."""
    delay = FIRST_RETRY_DELAY
    while True:
        try:
            return action()
        except (StoreUnavailable, BusUnavailable) as exc:
            if retries is not None:
                retries.labels("store" if isinstance(exc, StoreUnavailable) else "bus").inc()
            log.warning("cannot %s (%s); retrying in %.1fs", what, exc, delay)
        if stop.wait(delay):
            raise Stopped
        delay = min(delay * 2, max_delay)


def join_group(
    bus: Bus,
    topic: str,
    group: str,
    *,
    stop: threading.Event,
    max_delay: float,
    log: logging.Logger,
) -> Consumer | None:
    """Join the group, waiting with backoff while the bus is down; None if asked to stop."""
    try:
        return retrying(
            lambda: bus.consumer(topic, group),
            "join the group",
            stop=stop,
            max_delay=max_delay,
            log=log,
        )
    except Stopped:
        return None


def fill_batch(
    messages: list[Message],
    poll: Callable[[int, float], list[Message]],
    *,
    batch_size: int,
    batch_wait: float,
    stop: threading.Event,
) -> list[Message]:
    """Add to the batch until it is full or `batch_wait` seconds have passed since its
    first message: one store write for a burst, a bounded wait for a lone message."""
    deadline = time.monotonic() + batch_wait
    while len(messages) < batch_size and not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            break
        messages.extend(poll(batch_size - len(messages), left))
    return messages


def decode_article(message: Message) -> Article:
    """The Article a message carries; ValueError (with the reasons) when it carries none."""
    try:
        return Article.from_json(message.value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'message'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise ValueError(f"not a valid Article: {problems}") from exc


class BatchWorker(ABC):
    """The loop of a consumer-group worker: poll, fill a batch, process it (and commit);
    while idle, refresh the gauges every GAUGE_INTERVAL seconds. Subclasses give `prepare`,
    `process` and `report_idle`; asked to stop, the batch in hand is left uncommitted."""

    log: logging.Logger
    retries: Counter | None = None

    def __init__(
        self,
        consumer: Consumer,
        *,
        batch_size: int,
        batch_wait: float,
        max_retry_delay: float,
        stop: threading.Event | None,
    ) -> None:
        self.consumer = consumer
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self.max_retry_delay = max_retry_delay
        self.stop = stop or threading.Event()
        self._gauges_read = float("-inf")

    @abstractmethod
    def prepare(self) -> None:
        """What must hold before the first batch (the stores' schemas)."""

    @abstractmethod
    def process(self, messages: list[Message]) -> None:
        """One batch: do the worker's work, then commit its offsets."""

    @abstractmethod
    def report_idle(self) -> None:
        """The gauges, read while no message comes."""

    def run(self) -> None:
        """Work until `stop` is set; the batch in hand is finished or left uncommitted."""
        try:
            self.prepare()
            while not self.stop.is_set():
                messages = self._retrying(
                    lambda: self.consumer.poll(self.batch_size, timeout=1.0), "poll the bus"
                )
                if messages:
                    self.process(self._fill(messages))
                elif time.monotonic() - self._gauges_read >= GAUGE_INTERVAL:
                    self.report_idle()
        except Stopped:
            self.log.info("stopped before the current batch was committed; it will be redelivered")

    def _fill(self, messages: list[Message]) -> list[Message]:
        return fill_batch(
            messages,
            lambda n, t: self._retrying(lambda: self.consumer.poll(n, timeout=t), "poll the bus"),
            batch_size=self.batch_size,
            batch_wait=self.batch_wait,
            stop=self.stop,
        )

    def _retrying(self, action: Callable[[], T], what: str) -> T:
        """`retrying` with this worker's stop, ceiling, log and retries counter;
        DataCorrupted is not waited on: damage does not heal, so it goes up."""
        return retrying(
            action,
            what,
            stop=self.stop,
            max_delay=self.max_retry_delay,
            log=self.log,
            retries=self.retries,
        )
