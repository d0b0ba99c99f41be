"""What every SearchStore says about itself: documents and size for the indexer's gauges,
and recent articles per source for `newsagg status`."""

from __future__ import annotations

from datetime import UTC, datetime

from contract.test_store_contract import CORPUS
from newsagg.core.article import Article
from support.stores import StorePair


def test_stats_count_the_documents_and_their_bytes(stores: StorePair):
    empty = stores.writer.stats()
    assert empty.documents == 0
    stores.writer.upsert(CORPUS)
    full = stores.writer.stats()
    assert full.documents == len(CORPUS)
    assert full.size_bytes is not None
    assert full.size_bytes > 0
    reader = stores.open_reader()
    try:
        assert reader.stats().documents == len(CORPUS)
    finally:
        reader.close()


def test_crawled_since_counts_per_source_by_newest_crawl(stores: StorePair):
    stores.writer.upsert(CORPUS)  # every one crawled 2026-10-01T00:00Z
    recrawl = CORPUS[2].model_copy(update={"crawled_at": datetime(2026, 10, 3, 8, tzinfo=UTC)})
    stores.writer.upsert([Article.model_validate(recrawl.model_dump())])
    reader = stores.open_reader()
    try:
        assert reader.crawled_since(datetime(2026, 10, 1, tzinfo=UTC)) == {
            "marquee": 2,
            "reelnews": 2,
        }
        assert reader.crawled_since(datetime(2026, 10, 3, tzinfo=UTC)) == {"reelnews": 1}
        assert reader.crawled_since(datetime(2026, 10, 4, tzinfo=UTC)) == {}
    finally:
        reader.close()
