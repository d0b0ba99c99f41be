"""The ports the services talk through: Bus and SearchStore; AlertStore and Matcher for
saved searches.

Each has an embedded adapter (one machine, under ./data) and a production one
(Kafka, Elasticsearch); one contract suite in tests/contract holds them to the
same behaviour.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from newsagg.core.alerts.model import Delivery, Match, SavedSearch
from newsagg.core.article import Article
from newsagg.core.search import (
    Hit,
    Interval,
    SearchPage,
    SearchQuery,
    SourceStats,
    StorySummary,
    TimeBucket,
)

ARTICLES_TOPIC = "articles"


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


class StoreUnavailable(RuntimeError):
    """The store cannot be reached or refused the write: retry later, lose nothing."""


class StoreNotCreated(StoreUnavailable):
    """A reader found no index: the indexer creates it with its schema before its first
    batch. Not an outage on a new deployment, so readers that can wait for it (the alerts
    worker) wait without counting it as one."""


class StoreRejected(ValueError):
    """The store refused some documents for good (e.g. a mapping error); retrying cannot help.

    Everything else in the batch was written. `reasons` maps each refused article id to
    why; the indexer dead-letters those messages and commits the batch.
    """

    def __init__(self, reasons: Mapping[str, str]) -> None:
        super().__init__(f"{len(reasons)} document(s) refused: " + "; ".join(reasons.values()))
        self.reasons = dict(reasons)


class BusUnavailable(RuntimeError):
    """The bus cannot be reached: retry later."""


class DataCorrupted(RuntimeError):
    """Stored data is damaged: a permanent error, never retried as an outage.

    Waiting cannot mend a damaged file, so whoever meets it stops (the indexer exits,
    /readyz fails) and says which file is damaged and what repairs it; `remedy` names
    the command (see docs/runbook.md). Not a StoreUnavailable or BusUnavailable on
    purpose: those are retried.
    """

    def __init__(self, path: str | os.PathLike[str], problem: str, remedy: str) -> None:
        super().__init__(f"{os.fspath(path)} is corrupted: {problem}. {remedy}")
        self.path = os.fspath(path)
        self.problem = problem
        self.remedy = remedy


class IndexOutdated(RuntimeError):
    """The index was made in an older layout that cannot do what was asked (a filter on a
    field it lacks, a mapping that cannot be extended in place): only a rebuild can.

    Not an outage (waiting cannot help) and not damage (the index is whole): `problem`
    says what the old layout lacks, `remedy` names the command that rebuilds it.
    """

    def __init__(self, problem: str, remedy: str) -> None:
        super().__init__(f"{problem}; {remedy}")
        self.problem = problem
        self.remedy = remedy


class GroupActive(RuntimeError):
    """A consumer group's offsets cannot be moved while members of it are running."""


@dataclass(frozen=True)
class Message:
    """One record of a topic, as a consumer sees it."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))


class Consumer(Protocol):
    """A member of a consumer group on one topic. At-least-once: commit after success."""

    def poll(self, max_messages: int, timeout: float) -> list[Message]:
        """Up to max_messages after the group's position; waits up to timeout seconds."""
        ...

    def commit(self, messages: Sequence[Message]) -> None:
        """Mark these messages (and all before them on their partitions) as done."""
        ...

    def lag(self) -> dict[int, int]:
        """Messages not yet committed by the group, per partition."""
        ...

    def close(self) -> None: ...


class Bus(Protocol):
    """A durable, ordered, keyed log of messages in topics."""

    def publish(
        self, topic: str, key: str | None, value: bytes, headers: Mapping[str, str] | None = None
    ) -> None: ...

    def flush(self) -> None:
        """Return once every published message is durable."""
        ...

    def consumer(self, topic: str, group: str) -> Consumer: ...

    def topic_size(self, topic: str) -> int:
        """Messages currently held by the topic (all partitions)."""
        ...

    def group_lag(self, topic: str, group: str) -> dict[int, int]:
        """Messages of the topic not yet committed by the group, per partition."""
        ...

    def rewind(self, topic: str, group: str, since: datetime | None) -> dict[int, int]:
        """Move the group's committed offsets back so it re-reads the log.

        From the start of the log when `since` is None, else from the first message
        published at or after `since`. Returns the group's lag afterwards, per partition
        (the messages it will read again). Raises GroupActive while the group has running
        members: their in-flight commits would undo the move.
        """
        ...

    def health(self) -> bool:
        """Whether the bus answers; raises DataCorrupted when its log is damaged."""
        ...

    def close(self) -> None: ...


def publish_dead_letter(bus: Bus, message: Message, reason: str) -> None:
    """Send a message that cannot be processed to `<topic>.dlq`, keeping key, value and why."""
    headers = dict(message.headers)
    headers.update(
        {
            "error": reason[:2000],
            "source_topic": message.topic,
            "source_partition": str(message.partition),
            "source_offset": str(message.offset),
            "failed_at": datetime.now(UTC).isoformat(),
        }
    )
    bus.publish(dead_letter_topic(message.topic), message.key, message.value, headers)


@dataclass(frozen=True)
class StoreStats:
    """The store's size, for the indexer's gauges."""

    documents: int
    size_bytes: int | None
    """As the engine reports it (tantivy: the index directory; Elasticsearch: the primaries'
    store); None where the engine does not say."""


@dataclass(frozen=True)
class UpsertResult:
    written: int
    stale: int = 0
    """Documents skipped because the store already holds a newer crawl of them."""


class SearchStore(Protocol):
    """Where articles are indexed and searched."""

    def ensure_schema(self) -> None: ...

    def upsert(self, articles: Sequence[Article]) -> UpsertResult:
        """Write idempotently by id; an older crawled_at never replaces a newer one.

        Returns only when the batch is durable and searchable; raises StoreUnavailable
        otherwise, or StoreRejected for documents the store will never accept.
        """
        ...

    def delete_source(self, source: str) -> list[str]:
        """Delete every article of one source (`newsagg purge`); returns their ids, so the
        crawl state can forget them too. Raises StoreUnavailable if it cannot finish."""
        ...

    def get(self, article_id: str) -> Article | None: ...

    def get_many(self, ids: Sequence[str]) -> dict[str, Article]:
        """The stored articles (with text) of those ids the store holds, in one round trip:
        what the indexer merges each batch with (see article.revise)."""
        ...

    def search(self, query: SearchQuery) -> SearchPage:
        """Raises IndexOutdated for a filter on a field its index was made without."""
        ...

    def similar(self, article_id: str, size: int = 10) -> list[Hit]:
        """Articles about the same thing as this one (not itself); [] for an unknown id."""
        ...

    def near_duplicates(self, bands: Sequence[str], size: int = 100) -> list[Article]:
        """Articles holding any of these LSH band keys (with minhash), at most `size`: the
        near-duplicate candidates, kept in the store so every indexer sees the same ones."""
        ...

    def articles_matching(self, queries: Sequence[SearchQuery]) -> list[list[Article]]:
        """For each query, the articles (with text) of the page `search` would give for it
        uncollapsed, in its order, and nothing else: no snippets, group sizes, facets or
        count, which were most of a story-candidate search's time. All the queries in one
        round trip where the engine allows it (the enrichment asks a batch's at once).
        Raises ValueError for a collapsed query (its groups need the hits' group keys)."""
        ...

    def story(self, story_id: str, size: int = 500) -> list[Hit]:
        """The story's articles in time order (published_at, else crawled_at; oldest
        first); [] for an unknown story."""
        ...

    def stories(self, query: SearchQuery, size: int = 10) -> tuple[int, list[StorySummary]]:
        """Stories whose articles match the query, ranked by query.sort (relevance: the best
        member's score; date: the newest member), with the number of matching stories."""
        ...

    def scan(self, query: SearchQuery, page_size: int = 500) -> Iterator[Article]:
        """Every article matching the query (with text), newest first, one page in memory."""
        ...

    def timeline(self, query: SearchQuery, interval: Interval) -> list[TimeBucket]:
        """Matches per interval of publication date (UTC), empty intervals left out."""
        ...

    def source_stats(self) -> list[SourceStats]:
        """Per source in the index: articles, newest publication, newest crawl."""
        ...

    def count(self) -> int: ...

    def stats(self) -> StoreStats:
        """Documents held and bytes used (newsagg_store_documents, newsagg_store_size_bytes)."""
        ...

    def crawled_since(self, since: datetime) -> dict[str, int]:
        """Per source, the articles whose newest crawl is at or after `since` (an article
        published since then was fetched since then too): `newsagg status`'s articles today."""
        ...

    def health(self) -> bool:
        """Whether the store answers; raises DataCorrupted when its data is damaged."""
        ...

    def close(self) -> None: ...


class AlertStore(Protocol):
    """Saved searches, their matches and open deliveries, durably (SQLite embedded; an
    Elasticsearch index of its own at scale). Raises StoreUnavailable for an outage and
    DataCorrupted for damage, like SearchStore."""

    def ensure_schema(self) -> None: ...

    def create(self, search: SavedSearch) -> None:
        """Raises ValueError if a saved search with its id exists."""
        ...

    def get(self, search_id: str) -> SavedSearch | None: ...

    def by_feed_token(self, token: str) -> SavedSearch | None: ...

    def list(self, owner: str | None = None) -> list[SavedSearch]:
        """The owner's saved searches (every owner's when None), oldest first."""
        ...

    def count(self, owner: str) -> int: ...

    def revision(self) -> str:
        """A value that changes whenever a saved search is created, deleted, or changed by
        its owner (a new updated_at), and not when the worker records its delivery state:
        the alerts worker reads it before each batch and re-reads the list only when it
        changed, so a search saved before an article is matched is matched against it."""
        ...

    def update(self, search: SavedSearch) -> None:
        """Replace the stored saved search of that id; KeyError if there is none."""
        ...

    def modify(self, search_id: str, change: Callable[[SavedSearch], SavedSearch]) -> SavedSearch:
        """Store `change(stored)` in place of the stored saved search, atomically, and
        return it; KeyError if there is none. Unlike get-then-update, a write made in
        between by another process (the API pausing the search while the worker records
        a delivery) is never lost: `change` may be called again on the newer version."""
        ...

    def delete(self, search_id: str) -> bool:
        """Delete it with its matches; False if there was none."""
        ...

    def add_matches(self, matches: Sequence[Match]) -> int:
        """Record matches, each (search_id, article_id) once: a match already recorded, even
        delivered, is left as it is. Returns how many were new."""
        ...

    def pending_counts(self) -> dict[str, int]:
        """Per saved search with undelivered matches, how many, in one read: what the
        delivery loop sweeps (a read per search would be 10,000 reads a sweep)."""
        ...

    def pending(self, search_id: str, limit: int = 500) -> list[Match]:
        """Matches not yet delivered (in an open delivery or not), oldest first."""
        ...

    def open_delivery(self, search_id: str, limit: int = 500) -> Delivery | None:
        """The search's open delivery if it has one (the same id and matches as when it
        was opened), else a new one of its oldest `limit` undelivered matches written
        before it is returned; None when nothing is pending."""
        ...

    def close_delivery(self, delivery: Delivery, at: datetime) -> None:
        """Mark the delivery's matches delivered at `at`: they are never sent again."""
        ...

    def matches(
        self, search_id: str, since: datetime | None = None, limit: int = 100
    ) -> list[Match]:
        """The search's matches (delivered or not) matched at or after `since`, newest
        first."""
        ...

    def prune(self, before: datetime, undelivered_of: Sequence[str] = ()) -> int:
        """Delete the matches matched before `before` that were delivered, and the
        undelivered ones of the searches `undelivered_of` (those with no channel to deliver
        them: a feed shows them, nothing ever marks them delivered); never a match in an
        open delivery. How many were deleted. Keeps the store from growing without end."""
        ...

    def health(self) -> bool: ...

    def close(self) -> None: ...


class Matcher(Protocol):
    """Which saved searches find which new articles, with exactly the store's own analysis:
    a search matches an article if and only if the same search on the store finds it."""

    def match(
        self, searches: Sequence[SavedSearch], articles: Sequence[Article]
    ) -> dict[str, list[str]]:
        """Per saved search id, the ids of these articles it finds (searches finding none
        left out). The articles are as the store holds them (enriched)."""
        ...

    def close(self) -> None: ...
