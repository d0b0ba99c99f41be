"""Elasticsearch administration: what an operator runs, never a search or an upsert.

`newsagg reindex` copies the live index into `<prefix>-vN+1` (made from the current
template) and swaps the aliases atomically; `indices()` is what it reports. Apart from
ElasticsearchStore because the SearchStore port has no such operations and the
embedded store no aliases: the CLI asks for this class by name.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

from elasticsearch import helpers
from newsagg.core.adapters import es_schema as schema
from newsagg.core.adapters.elasticsearch_store import (
    BULK_RETRIES,
    RETRY_STATUSES,
    ElasticsearchStore,
    bulk_error_reason,
    unavailable_on_outage,
)
from newsagg.core.adapters.es_query import MATCH_ALL
from newsagg.core.ports import StoreUnavailable

log = logging.getLogger("newsagg.store")


class ReindexProgress(Protocol):
    """Told how far a reindex is, e.g. to draw a progress bar on a terminal."""

    def begin(self, old: str, new: str, total: int) -> None: ...

    def advance(self, copied: int) -> None: ...


class _Silent:
    def begin(self, old: str, new: str, total: int) -> None:
        pass

    def advance(self, copied: int) -> None:
        pass


class ElasticsearchAdmin:
    """Reindex with alias swaps, and the listing of this prefix's indices."""

    def __init__(self, store: ElasticsearchStore) -> None:
        self.store = store
        self.client = store.client
        self.prefix = store.prefix

    def reindex(
        self,
        batch_size: int = 500,
        max_docs_per_second: float | None = None,
        progress: ReindexProgress | None = None,
    ) -> tuple[str, str, int]:
        """Copy the live index into a new `<prefix>-vN+1` made from the current template,
        then swap the read alias atomically; returns (old, new, documents in new).

        Writes move to the new index first, so none lands in the old one after the copy
        starts. The copy walks a point in time of the old index and bulk-writes each
        document with its version (`version_type=external`): a newer write that arrived
        meanwhile wins (409, skipped); a second pass copies what reached the old index
        after the swap (by sequence number). Search reads the old index until the swap. The old
        index is kept for rollback. An interrupted reindex (aliases on two indices) is
        resumed, not restarted. Client-side because the `_reindex` API is a module the
        integ-test-zip lacks (docs/elasticsearch.md).
        """
        progress = progress or _Silent()
        read_alias, write_alias = self.store.read_alias, self.store.write_alias
        with unavailable_on_outage("reindex"):
            old, new = self._aliased_index(read_alias), self._aliased_index(write_alias)
            if old == new:
                new = schema.index_name(self.prefix, schema.index_version(self.prefix, old) + 1)
                self.client.indices.create(index=new)
                self.client.indices.update_aliases(
                    actions=[
                        {"remove": {"index": old, "alias": write_alias}},
                        {"add": {"index": new, "alias": write_alias, "is_write_index": True}},
                    ]
                )
            else:
                log.warning("resuming an interrupted reindex %s -> %s", old, new)
            # A write routed to the old index just before the swap may not be searchable yet:
            # refresh so the copy sees it, then copy again whatever still landed after that.
            self.client.indices.refresh(index=old)
            checkpoint = self._max_seq_no(old)
            progress.begin(old, new, int(self.client.count(index=old)["count"]))
            # Nothing searches the new index before the swap: no periodic refresh meanwhile
            # (bulk_ingest restores it and refreshes the new index on the way out).
            with self.store.bulk_ingest():
                copied = self._copy(old, new, MATCH_ALL, batch_size, max_docs_per_second, progress)
                self.client.indices.refresh(index=old)
                late = {"range": {"_seq_no": {"gt": checkpoint}}}
                self._copy(old, new, late, batch_size, max_docs_per_second, progress, copied)
            held = int(self.client.count(index=new)["count"])
            self.client.indices.update_aliases(
                actions=[
                    {"remove": {"index": old, "alias": read_alias}},
                    {"add": {"index": new, "alias": read_alias}},
                ]
            )
        log.info("reindexed %s -> %s: it holds %d documents", old, new, held)
        return old, new, held

    def _max_seq_no(self, index: str) -> int:
        """The lowest of the primaries' highest sequence numbers: later writes are above it."""
        shards = self.client.indices.stats(index=index, level="shards")["indices"][index]["shards"]
        return min(
            copy["seq_no"]["max_seq_no"]
            for copies in shards.values()
            for copy in copies
            if copy["routing"]["primary"]
        )

    def _copy(
        self,
        old: str,
        new: str,
        query: dict[str, Any],
        batch_size: int,
        per_second: float | None,
        progress: ReindexProgress,
        copied_before: int = 0,
    ) -> int:
        body = {"query": query, "sort": ["_shard_doc"], "version": True}
        started, copied = time.monotonic(), 0
        actions = (
            {
                "_op_type": "index",
                "_index": new,
                "_id": raw["_id"],
                "version": raw["_version"],
                "version_type": "external",
                # an index from before schema 3 has no group keys (es_schema.GROUP_KEYS)
                "_source": raw["_source"] | schema.group_keys(raw["_source"]),
            }
            for raw in self.store.walk(old, body, batch_size)
        )
        failures: list[str] = []
        for ok, item in helpers.streaming_bulk(
            self.client,
            actions,
            chunk_size=batch_size,
            raise_on_error=False,
            max_retries=BULK_RETRIES,
            initial_backoff=0.5,
            retry_on_status=RETRY_STATUSES,
        ):
            result = next(iter(item.values()))
            if ok or result.get("status") == 409:
                copied += 1
            else:
                failures.append(bulk_error_reason(result.get("error")))
            if copied % batch_size == 0:
                progress.advance(copied_before + copied)
                if per_second:
                    time.sleep(max(0.0, copied / per_second - (time.monotonic() - started)))
        progress.advance(copied_before + copied)
        if failures:
            raise StoreUnavailable(f"reindex {old} -> {new}: {len(failures)} failed: {failures[0]}")
        return copied

    def _aliased_index(self, alias: str) -> str:
        """The one index behind an alias (for the write alias: its write index)."""
        for index, entry in self.client.indices.get_alias(name=alias).items():
            if entry["aliases"][alias].get("is_write_index", True):
                return str(index)
        raise StoreUnavailable(f"no index behind {alias}")

    def indices(self) -> dict[str, list[str]]:
        """Each index of this prefix with its aliases: what `newsagg reindex` reports."""
        with unavailable_on_outage("list indices"):
            found = self.client.indices.get_alias(
                index=f"{self.prefix}-v*", ignore_unavailable=True, allow_no_indices=True
            )
        return {str(k): sorted(v["aliases"]) for k, v in sorted(found.items())}
