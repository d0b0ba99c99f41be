"""`newsagg reindex`: rebuild the Elasticsearch index from the current schema, no downtime.

The store copies the live index into `<prefix>-vN+1` and swaps the aliases atomically
(ElasticsearchStore.reindex); search answers from the old index until the swap. The
embedded tantivy index has no aliases: it is rebuilt by replaying the bus instead.
"""

from __future__ import annotations

from newsagg.core.adapters import open_store
from newsagg.core.logs import configure_logging
from newsagg.core.settings import Settings


def run_reindex(settings: Settings, batch_size: int, max_docs_per_second: float | None) -> int:
    configure_logging(settings.log_level, settings.log_format, "reindex")
    url = settings.resolved_store_url
    store = open_store(url, writable=True, settings=settings)
    try:
        reindex = getattr(store, "reindex", None)
        if reindex is None:
            raise ValueError(
                f"reindex applies to Elasticsearch stores only, not {url}; "
                "to rebuild the embedded index, delete it and replay the bus into the indexer"
            )
        store.ensure_schema()
        old, new, copied = reindex(batch_size=batch_size, max_docs_per_second=max_docs_per_second)
        print(f"reindexed {copied} articles: {old} -> {new}; searches now read {new}.")
        print(f"{old} is kept for rollback; delete it when satisfied: DELETE /{old}")
    finally:
        store.close()
    return 0
