"""The indexer's loop: consume a batch, validate, upsert, and only then commit.

A batch closes at `batch_size` messages or `batch_wait` seconds after its first message,
whichever comes first: a lone article is searchable within `batch_wait` (plus one store
commit), and a burst (a crawl pass publishing as it extracts) costs one store commit, not
one per article.

Delivery is at least once: offsets move only after the store acknowledged the
batch (and the dead letters of the batch are on the bus), and upserts are
idempotent, so a crash anywhere re-delivers work without duplicating it.

Before the upsert, each article is merged with what the store holds of its id
(`revise`): a page whose text changed keeps its id and becomes the next revision, with
the version before it and a summary of the earlier ones. The merge is idempotent too: a
re-delivered or replayed version has the stored one's content hash, so it is no revision.

Then, when an Enricher is given (NEWSAGG_ENRICH), the batch is enriched
(newsagg.core.enrichment): near-duplicate group and original, story, people. Its state is
the store's, read like the stored versions and retried alike; stored copies whose original
changed are written with the batch. An index made before the enrichment fields cannot
find candidates (IndexOutdated): the indexer goes on without enrichment until it is rebuilt.

The metrics (newsagg.indexer.metrics) are observed once the batch is committed: what
is searchable, how fresh it is, and the group's lag; the store's size every
GAUGE_INTERVAL seconds, busy or idle.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from newsagg.core.article import Article, revise
from newsagg.core.consuming import GAUGE_INTERVAL, BatchWorker, decode_article
from newsagg.core.enrichment import Enricher
from newsagg.core.ports import (
    ARTICLES_TOPIC,
    Bus,
    BusUnavailable,
    Consumer,
    IndexOutdated,
    Message,
    SearchStore,
    StoreRejected,
    StoreUnavailable,
    publish_dead_letter,
)
from newsagg.indexer.metrics import (
    BATCH_SECONDS,
    BATCHES,
    BUS_CONSUMED,
    BUS_DEAD_LETTERS,
    CONSUMER_LAG,
    DOCUMENTS_INDEXED,
    ENRICH_SECONDS,
    ENRICHED,
    FETCHED_TO_SEARCHABLE,
    PUBLISHED_TO_SEARCHABLE,
    RETRIES,
    REVISIONS,
    STORE_DOCUMENTS,
    STORE_SIZE,
)

log = logging.getLogger("newsagg.indexer")


class Indexer(BatchWorker):
    log = log
    retries = RETRIES

    def __init__(
        self,
        bus: Bus,
        consumer: Consumer,
        store: SearchStore,
        *,
        batch_size: int = 200,
        batch_wait: float = 0.1,
        max_retry_delay: float = 30.0,
        stop: threading.Event | None = None,
        group: str = "indexer",
        topic: str = ARTICLES_TOPIC,
        enricher: Enricher | None = None,
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
        self.group = group
        """The consumer's group and topic, as the lag gauge labels them."""
        self.topic = topic
        self.enricher = enricher

    def prepare(self) -> None:
        self._retrying(self.store.ensure_schema, "open the store")

    def report_idle(self) -> None:
        self._report_lag()
        self._report_store()

    def process(self, messages: Sequence[Message]) -> None:
        """Handle one batch: upsert the valid, dead-letter the invalid, then commit all."""
        started = time.perf_counter()
        decoded: list[tuple[Message, Article]] = []
        rejected: list[tuple[Message, str]] = []
        for message in messages:
            try:
                decoded.append((message, decode_article(message)))
            except ValueError as exc:
                rejected.append((message, str(exc)))
        invalid = len(rejected)
        decoded, revised = self._revise(decoded) if decoded else (decoded, set())
        decoded, repointed = self._enrich(decoded) if decoded else (decoded, [])
        written, refused = self._upsert(decoded, repointed) if decoded else (0, [])
        rejected.extend(refused)
        for number, (message, reason) in enumerate(rejected):
            self._retrying(
                lambda m=message, r=reason: publish_dead_letter(self.bus, m, r),
                "dead-letter a message",
            )
            why = "invalid" if number < invalid else "rejected"
            BUS_DEAD_LETTERS.labels(message.topic, why).inc()
            log.warning("dead-lettered %s@%s: %s", message.topic, message.offset, reason)
        self._retrying(lambda: self.consumer.commit(messages), "commit offsets")
        for message in messages:
            BUS_CONSUMED.labels(message.topic).inc()
        BATCHES.inc()
        DOCUMENTS_INDEXED.inc(written)
        BATCH_SECONDS.observe(time.perf_counter() - started)
        refused_messages = {id(message) for message, _ in refused}
        revisions = len(revised - refused_messages)
        REVISIONS.inc(revisions)
        self._observe_freshness([a for m, a in decoded if id(m) not in refused_messages])
        self._report_lag()
        if time.monotonic() - self._gauges_read >= GAUGE_INTERVAL:
            self._report_store()
        log.info(
            "indexed %d articles, %d revised, %d dead-lettered",
            len(decoded),
            revisions,
            len(rejected),
        )

    def _revise(
        self, decoded: list[tuple[Message, Article]]
    ) -> tuple[list[tuple[Message, Article]], set[int]]:
        """Each article merged with the stored version of its id, and which messages (by
        `id()`) brought a new revision.

        Versions of one id within the batch are merged in crawl order, each on the one
        before, as separate batches would merge them: a replay into an empty store (`newsagg
        repair --index`) rebuilds the revisions. An older crawl than the one held comes back
        unchanged, and the store skips it.
        """
        ids = list(dict.fromkeys(article.id for _, article in decoded))
        held: dict[str, Article] = self._retrying(
            lambda: dict(self.store.get_many(ids)), "read the stored versions"
        )
        merged = list(decoded)
        revised: set[int] = set()
        for index in sorted(range(len(decoded)), key=lambda i: decoded[i][1].crawled_at):
            message, article = decoded[index]
            before = held.get(article.id)
            after = revise(before, article)
            merged[index] = (message, after)
            if before is None or after.crawled_at >= before.crawled_at:
                held[article.id] = after
                if before is not None and after.revision > before.revision:
                    revised.add(id(message))
        return merged, revised

    def _enrich(
        self, decoded: list[tuple[Message, Article]]
    ) -> tuple[list[tuple[Message, Article]], list[Article]]:
        """The batch enriched (when enrichment is on), and the stored copies re-pointed at a
        new original, to be written with it."""
        if self.enricher is None:
            return decoded, []
        enricher = self.enricher
        started = time.perf_counter()
        try:
            result = self._retrying(
                lambda: enricher.enrich_batch([article for _, article in decoded]),
                "enrich the batch",
            )
        except IndexOutdated as exc:
            log.warning("enrichment off until the index is rebuilt: %s", exc)
            self.enricher = None
            return decoded, []
        ENRICH_SECONDS.observe(time.perf_counter() - started)
        ENRICHED.labels("duplicate").inc(result.duplicates)
        ENRICHED.labels("story_joined").inc(result.stories_joined)
        ENRICHED.labels("story_started").inc(result.stories_started)
        ENRICHED.labels("unchanged").inc(result.unchanged)
        ENRICHED.labels("repointed").inc(len(result.repointed))
        enriched = [(m, a) for (m, _), a in zip(decoded, result.articles, strict=True)]
        return enriched, result.repointed

    def _upsert(
        self, decoded: list[tuple[Message, Article]], repointed: Sequence[Article] = ()
    ) -> tuple[int, list[tuple[Message, str]]]:
        """Write the batch (and the re-pointed copies): how many documents were written,
        and the messages of articles the store refused for good, with why. A re-pointed
        copy the store refuses keeps its former original: there is no message to
        dead-letter, it is logged."""
        try:
            result = self._retrying(
                lambda: self.store.upsert([article for _, article in decoded] + list(repointed)),
                "write the batch",
            )
        except StoreRejected as exc:
            refused = [
                (message, f"the store refused it: {exc.reasons[article.id]}")
                for message, article in decoded
                if article.id in exc.reasons
            ]
            for article in repointed:
                if article.id in exc.reasons:
                    log.warning(
                        "re-pointed copy %s refused: %s", article.id, exc.reasons[article.id]
                    )
            written = len(decoded) + len(repointed) - len(exc.reasons)
            return written, refused
        return result.written, []

    @staticmethod
    def _observe_freshness(searchable: Sequence[Article]) -> None:
        """Now searchable (the batch is committed): how long since each was published and
        fetched. A publish date in the future (a source's clock or time zone) counts as 0."""
        now = datetime.now(UTC)
        for article in searchable:
            if article.published_at is not None:
                age = (now - article.published_at).total_seconds()
                PUBLISHED_TO_SEARCHABLE.observe(max(0.0, age))
            FETCHED_TO_SEARCHABLE.observe(max(0.0, (now - article.crawled_at).total_seconds()))

    def _report_store(self) -> None:
        """A metric, not the work: a store that cannot tell its size right now must not stop us."""
        self._gauges_read = time.monotonic()
        try:
            stats = self.store.stats()
        except StoreUnavailable as exc:
            log.debug("store size unknown: %s", exc)
            return
        STORE_DOCUMENTS.set(stats.documents)
        if stats.size_bytes is not None:
            STORE_SIZE.set(stats.size_bytes)

    def _report_lag(self) -> None:
        """A metric, not the work: a bus that cannot tell its lag right now must not stop us."""
        try:
            lags = self.consumer.lag()
        except BusUnavailable as exc:
            log.debug("lag unknown: %s", exc)
            return
        for partition, lag in lags.items():
            CONSUMER_LAG.labels(self.group, self.topic, str(partition)).set(lag)
