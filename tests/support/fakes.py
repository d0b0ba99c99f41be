"""In-memory fakes of the ports, for unit tests of the service logic."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from newsagg.core.article import Article
from newsagg.core.ports import (
    BusUnavailable,
    Message,
    StoreStats,
    StoreUnavailable,
    UpsertResult,
)


class MemoryBus:
    def __init__(self) -> None:
        self.topics: dict[str, list[Message]] = {}
        self.committed: dict[tuple[str, str], int] = {}
        self.down = False

    def publish(
        self, topic: str, key: str | None, value: bytes, headers: Mapping[str, str] | None = None
    ) -> None:
        if self.down:
            raise BusUnavailable("fake bus is down")
        log = self.topics.setdefault(topic, [])
        log.append(Message(topic, 0, len(log) + 1, key, value, dict(headers or {})))

    def flush(self) -> None:
        pass

    def consumer(self, topic: str, group: str) -> MemoryConsumer:
        return MemoryConsumer(self, topic, group)

    def health(self) -> bool:
        return not self.down

    def close(self) -> None:
        pass


class MemoryConsumer:
    def __init__(self, bus: MemoryBus, topic: str, group: str) -> None:
        self.bus, self.topic, self.group = bus, topic, group
        self.position = bus.committed.get((topic, group), 0)

    def poll(self, max_messages: int, timeout: float) -> list[Message]:
        log = self.bus.topics.get(self.topic, [])
        batch = [m for m in log if m.offset > self.position][:max_messages]
        if batch:
            self.position = batch[-1].offset
        return batch

    def commit(self, messages: Sequence[Message]) -> None:
        key = (self.topic, self.group)
        self.bus.committed[key] = max(self.bus.committed.get(key, 0), *(m.offset for m in messages))

    def lag(self) -> dict[int, int]:
        log = self.bus.topics.get(self.topic, [])
        done = self.bus.committed.get((self.topic, self.group), 0)
        return {0: sum(1 for m in log if m.offset > done)}

    def close(self) -> None:
        pass


class MemoryStore:
    """The write side of a SearchStore (what the indexer uses): keeps the newest crawl of
    each article, and can be switched 'down' to simulate an outage. Search itself is
    tested on the real adapters by the contract suite."""

    def __init__(self) -> None:
        self.articles: dict[str, Article] = {}
        self.down = False
        self.failed_writes = 0
        self.failed_reads = 0

    def ensure_schema(self) -> None:
        pass

    def upsert(self, articles: Sequence[Article]) -> UpsertResult:
        if self.down:
            self.failed_writes += 1
            raise StoreUnavailable("fake store is down")
        written = 0
        for article in articles:
            held = self.articles.get(article.id)
            if held is None or article.crawled_at >= held.crawled_at:
                self.articles[article.id] = article
                written += 1
        return UpsertResult(written=written, stale=len(articles) - written)

    def get(self, article_id: str) -> Article | None:
        return self.articles.get(article_id)

    def get_many(self, ids: Sequence[str]) -> dict[str, Article]:
        if self.down:
            self.failed_reads += 1
            raise StoreUnavailable("fake store is down")
        return {i: self.articles[i] for i in ids if i in self.articles}

    def count(self) -> int:
        return len(self.articles)

    def stats(self) -> StoreStats:
        if self.down:
            raise StoreUnavailable("fake store is down")
        return StoreStats(documents=len(self.articles), size_bytes=None)

    def health(self) -> bool:
        return not self.down

    def close(self) -> None:
        pass
