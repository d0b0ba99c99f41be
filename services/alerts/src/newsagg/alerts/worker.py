"""The alerts worker's matching loop: consume a batch, wait until the store holds it,
match it against every saved search, record the matches, and only then commit.

It reads the articles topic in a consumer group of its own, beside the indexer, and
matches what the STORE holds of each article (enriched: people, story), not the message:
a saved search finds an article if and only if the same search on the store would. So a
batch waits until the store holds each of its articles at least as new as the message
(stored crawled_at >= the message's), re-reading with a short backoff while the indexer
catches up, however long that takes: an article the indexer has not written yet is not
lost by giving up on it. One the indexer went past without storing (it dead-lettered it,
or the store refused it) is skipped once the indexer group's committed position is past
it on its partition and a grace period has gone by (a log line and
newsagg_alerts_skipped_total).

A message that is not an Article is skipped with a log line: the indexer already put it
on the dead-letter topic, a second copy there would count it twice.

Matches are recorded (AlertStore.add_matches, idempotent per search and article) BEFORE
the offsets are committed: a worker killed in between matches the batch again and
records nothing twice. Every saved search is matched, paused and failing ones too: their
matches wait, and resuming them delivers what came meanwhile.

The saved searches are re-read when the alert store's revision changed (read before each
batch): a search saved before an article is matched is matched against it (a re-read
every 2 s missed articles published right after a save). The matcher is handed the same
list (the same objects) until one was created, changed or deleted, so it can keep what
it built from them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from newsagg.alerts.metrics import (
    ARTICLES_MATCHED,
    CONSUMER_LAG,
    MATCH_SECONDS,
    MATCHES,
    RETRIES,
    SKIPPED,
)
from newsagg.core.alerts.model import Match, SavedSearch
from newsagg.core.article import Article
from newsagg.core.consuming import BatchWorker, Stopped, decode_article
from newsagg.core.ports import (
    ARTICLES_TOPIC,
    AlertStore,
    Bus,
    BusUnavailable,
    Consumer,
    Matcher,
    Message,
    SearchStore,
    StoreNotCreated,
)

log = logging.getLogger("newsagg.alerts")
SKIP_GRACE = 5.0
"""Seconds an article the indexer went past without storing is waited for still (the
store's reader may show a write a moment after the indexer committed it)."""
STORE_POLL_MAX = 0.25
"""Longest pause between reads of a batch the store does not hold yet: an article is
matched within about this long of becoming searchable (the delivery latency's target is
5 s), at four cheap id lookups a second while the indexer is behind."""


class MatchingWorker(BatchWorker):
    """One member of the alerts group: matches its partitions' articles."""

    log = log
    retries = RETRIES

    def __init__(
        self,
        bus: Bus,
        consumer: Consumer,
        store: SearchStore,
        alerts: AlertStore,
        matcher: Matcher,
        *,
        batch_size: int = 200,
        batch_wait: float = 0.2,
        max_retry_delay: float = 30.0,
        group: str = "alerts",
        indexer_group: str = "indexer",
        stop: threading.Event | None = None,
        on_matched: Callable[[Iterable[str]], None] | None = None,
        topic: str = ARTICLES_TOPIC,
        skip_grace: float = SKIP_GRACE,
    ) -> None:
        super().__init__(
            consumer,
            batch_size=batch_size,
            batch_wait=batch_wait,
            max_retry_delay=max_retry_delay,
            stop=stop,
        )
        self.bus = bus
        self.store = store
        self.alerts = alerts
        self.matcher = matcher
        self.group = group
        """This consumer's group, and the indexer's: comparing their positions tells when
        the indexer went past an article it did not store."""
        self.indexer_group = indexer_group
        self.on_matched = on_matched
        """Told the ids of the searches that matched a batch, once it is recorded (the
        delivery loop of this process delivers instant ones at once)."""
        self.topic = topic
        self.skip_grace = skip_grace
        self._searches: list[SavedSearch] = []
        self._revision: str | None = None

    def prepare(self) -> None:
        """The alert store must open; the search store is read when a batch comes (the
        indexer may not have created it yet, see `_held`)."""
        self._retrying(self.alerts.ensure_schema, "open the alert store")

    def report_idle(self) -> None:
        self._report_lag()

    def process(self, messages: Sequence[Message]) -> None:
        """One batch: decode, wait for the store, match, record, then commit."""
        wanted: dict[str, datetime] = {}
        partition_of: dict[str, int] = {}
        for message in messages:
            try:
                article = decode_article(message)
            except ValueError as exc:
                log.warning("skipped %s@%s: %s", message.topic, message.offset, exc)
                continue
            if article.id not in wanted or article.crawled_at > wanted[article.id]:
                wanted[article.id] = article.crawled_at
            partition_of[article.id] = message.partition
        stored, seen_at = self._stored(wanted, partition_of, messages) if wanted else ({}, {})
        recorded = 0
        if stored:
            searches = self._saved_searches()
            started = time.perf_counter()
            found = self._retrying(
                lambda: self.matcher.match(searches, list(stored.values())), "match the batch"
            )
            MATCH_SECONDS.observe(time.perf_counter() - started)
            matches = [
                Match(search_id=search_id, article_id=article_id, matched_at=seen_at[article_id])
                for search_id, article_ids in found.items()
                for article_id in article_ids
            ]
            recorded = self._retrying(lambda: self.alerts.add_matches(matches), "record matches")
            ARTICLES_MATCHED.inc(len(stored))
            MATCHES.inc(recorded)
            if found and self.on_matched is not None:
                self.on_matched(found.keys())
        self._retrying(lambda: self.consumer.commit(messages), "commit offsets")
        self._report_lag()
        log.info(
            "matched %d articles against %d saved searches: %d new matches",
            len(stored),
            len(self._searches),
            recorded,
        )

    def _stored(
        self,
        wanted: dict[str, datetime],
        partition_of: dict[str, int],
        messages: Sequence[Message],
    ) -> tuple[dict[str, Article], dict[str, datetime]]:
        """The batch's articles as the store holds them, waiting for the indexer, and when
        each was first seen there (its match's matched_at: when it was searchable, give
        or take one read)."""
        stored: dict[str, Article] = {}
        seen_at: dict[str, datetime] = {}
        per_partition: dict[int, int] = {}
        for message in messages:
            per_partition[message.partition] = per_partition.get(message.partition, 0) + 1
        passed_since: dict[int, float] = {}
        delay = 0.05
        while True:
            missing = [i for i in wanted if i not in stored]
            held = self._retrying(lambda ids=missing: self._held(ids), "read the batch")
            now = datetime.now(UTC)
            for article_id, article in held.items():
                if article.crawled_at >= wanted[article_id]:
                    stored[article_id] = article
                    seen_at[article_id] = now
            missing = [i for i in wanted if i not in stored]
            if not missing:
                return stored, seen_at
            for partition in self._indexer_passed(per_partition):
                passed_since.setdefault(partition, time.monotonic())
            given_up = [
                i
                for i in missing
                if time.monotonic() - passed_since.get(partition_of[i], float("inf"))
                >= self.skip_grace
            ]
            for article_id in given_up:
                log.warning(
                    "skipped article %s: the indexer went past it and the store does not "
                    "hold it (dead-lettered or refused)",
                    article_id,
                )
                SKIPPED.inc()
                del wanted[article_id]
            if not wanted.keys() - stored.keys():
                return stored, seen_at
            if self.stop.wait(delay):
                raise Stopped
            delay = min(delay * 2, STORE_POLL_MAX)

    def _held(self, ids: list[str]) -> dict[str, Article]:
        """What the store holds of `ids`; nothing while the indexer has not created it (a
        worker started beside a new indexer waits for it as for any unindexed article,
        without counting an outage: NewsaggAlertsDependencyUnavailable fired on healthy
        new pipelines whose alerts worker polled first)."""
        try:
            return self.store.get_many(ids)
        except StoreNotCreated:
            return {}

    def _indexer_passed(self, per_partition: dict[int, int]) -> list[int]:
        """The partitions on which the indexer group has committed past this whole batch.

        The batch starts at this group's committed position, so the indexer is past it
        when it is at least as many messages ahead as the batch holds there. This group's
        lag is read first: messages published between the two reads make the indexer's
        lag larger, never smaller, so the answer errs on waiting."""
        try:
            ours = self.bus.group_lag(self.topic, self.group)
            theirs = self.bus.group_lag(self.topic, self.indexer_group)
        except BusUnavailable as exc:
            log.debug("cannot compare with the indexer's position: %s", exc)
            return []
        return [
            partition
            for partition, count in per_partition.items()
            if partition in ours
            and partition in theirs
            and ours[partition] - theirs[partition] >= count
        ]

    def _saved_searches(self) -> list[SavedSearch]:
        """Every saved search: re-read when the store's revision changed (one cheap read
        per batch), so a search saved before a batch is matched is matched against it;
        the same list (the same objects) while none was created, changed or deleted."""
        revision = self._retrying(self.alerts.revision, "read the saved searches' revision")
        if revision != self._revision:
            self._searches = self._retrying(self.alerts.list, "read the saved searches")
            self._revision = revision
            log.info("matching against %d saved searches", len(self._searches))
        return self._searches

    def _report_lag(self) -> None:
        """A metric, not the work: a bus that cannot tell its lag right now must not stop us."""
        self._gauges_read = time.monotonic()
        try:
            lags = self.consumer.lag()
        except BusUnavailable as exc:
            log.debug("lag unknown: %s", exc)
            return
        for partition, lag in lags.items():
            CONSUMER_LAG.labels(str(partition)).set(lag)
