"""ElasticsearchStore: the production SearchStore, on the official `elasticsearch` client.

Layout and analysis are in es_schema, the query translation in es_query, reindexing
and alias swaps in es_admin. What this module adds: every call maps an unreachable or
overloaded cluster to StoreUnavailable (the API answers 503, the indexer backs off),
upserts are bulk writes with external versioning (version = crawled_at in ms,
`external_gte`), so an older crawl gets a 409 and is counted stale, never written; and
an upsert returns once the batch is durable (translog fsynced per request) and
searchable: its bulk requests (UPSERT_CHUNK_DOCS / BULK_CHUNK_BYTES each, UPSERT_IN_FLIGHT
at a time while the next is built) carry no refresh, one refresh of the write index
follows the last. Each request waiting for the periodic refresh (`refresh=wait_for`, as
before) held every 500-document chunk up to a second.

Ingesting a backlog (a replay, a new index filled from the bus): `with store.bulk_ingest():`
turns the write index's periodic refresh off and skips the refresh per upsert, so
segments are not made per batch; on leaving, the refresh interval is restored and one
refresh makes everything written searchable. Inside it an upsert is durable on return but
searchable only at the end.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError, helpers
from newsagg.core.adapters import es_schema as schema
from newsagg.core.adapters.es_query import MATCH_ALL, QueryTranslator, filters
from newsagg.core.adapters.shared_search import (
    FACET_FIELDS,
    MAX_FACET_VALUES,
    MAX_STORY_PEOPLE,
    SNIPPET_CHARS,
    read_source_counts,
    read_source_stats,
    source_counts_aggregation,
    source_stats_aggregation,
)
from newsagg.core.adapters.text_analyzer import TextAnalyzer
from newsagg.core.article import Article, newest_crawls
from newsagg.core.ports import (
    IndexOutdated,
    StoreNotCreated,
    StoreRejected,
    StoreStats,
    StoreUnavailable,
    UpsertResult,
)
from newsagg.core.search import (
    Collapse,
    FacetCount,
    Hit,
    Interval,
    SearchPage,
    SearchQuery,
    Sort,
    SourceStats,
    StorySummary,
    TimeBucket,
)
from newsagg.core.settings import Settings

log = logging.getLogger("newsagg.store")
RETRY_STATUSES = (429, 502, 503, 504)
BULK_RETRIES = 3
PERMANENT_STATUSES = (400, 413)
"""A document the node refuses with these (a mapping error, too large) is never retried."""
HIT_SOURCE = [
    *("id", "url", "title", "source", "published_at", "authors", "language"),
    *("date_source", "date_confidence", "quality", "revision", "updated_at", "previous.title"),
    *("story_id", "duplicate_group", "duplicate_of", "people"),
]
COLLAPSE_KEYS = {Collapse.DUPLICATES: schema.DUPLICATE_KEY, Collapse.STORIES: schema.STORY_KEY}
GROUPS_PRECISION = 40_000
"""The cardinality aggregation's precision_threshold (its maximum): below it the number of
groups is exact but for hash collisions, above it an estimate (HyperLogLog++)."""
STORY_SOURCES = 1_000
MAX_SCORED_BANDS = 1_024
BANDS_PER_QUERY = 10_000
"""Band keys per `terms` query: under the index's max_terms_count (65,536 by default)."""
STORY_ORDER = [{"sort_date": "asc"}, {"crawled_at": "asc"}, {"id": "asc"}]
"""Time order within a story: published, else crawled; the earlier crawl on a tie."""
SIMILAR_FIELDS = ["title_terms", "text_terms"]
GROUPS = "collapsed_groups"
"""The aggregation counting the groups of a collapsed search (not a facet)."""
SCAN_KEEP_ALIVE = "2m"
MSEARCH_SEARCHES = 50
"""Searches per `_msearch` of articles_matching: a batch of 200 articles asks for up to 6,000
whole articles, ~30 MB of JSON in one answer otherwise."""
BULK_CHUNK_DOCS = 2_000
"""Per bulk request of a rewrite (group keys), and per page of a point-in-time walk."""
BULK_CHUNK_BYTES = 16 * 2**20
"""The byte cap of a bulk request: long articles never make one huge request."""
UPSERT_CHUNK_DOCS = 250
"""Per bulk request of an upsert (~1.2 MB of ~5 KB documents on loopback): small enough
that a batch of 1,000 is four requests, so building one overlaps the node indexing another
(see _write); an indexer batch of 200 stays one request."""
UPSERT_IN_FLIGHT = 2
"""Bulk requests of one upsert at the node at once: one per write thread of a 2-core node."""


@dataclass
class _Outcome:
    """What the node answered for the documents of one or more bulk requests."""

    written: int = 0
    stale: int = 0
    rejected: dict[str, str] = field(default_factory=dict)
    unavailable: list[str] = field(default_factory=list)

    @classmethod
    def sum(cls, outcomes: Sequence[_Outcome]) -> _Outcome:
        total = cls()
        for outcome in outcomes:
            total.written += outcome.written
            total.stale += outcome.stale
            total.rejected |= outcome.rejected
            total.unavailable += outcome.unavailable
        return total


def _millis(value: float | None) -> datetime | None:
    """A max over a date field: epoch milliseconds, None when no document has one."""
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC)


def bulk_error_reason(error: Any) -> str:
    if isinstance(error, dict):
        return f"{error.get('type', 'error')}: {error.get('reason', '')}"
    return str(error)


def _raise_item_error(item: dict[str, Any], what: str) -> None:
    """A failed search of a `_msearch` (the request succeeded, one search did not): an
    overloaded or missing index is unavailable, as `unavailable_on_outage` says for a
    whole request; anything else is a search the node refuses."""
    status = int(item.get("status", 500))
    reason = bulk_error_reason(item["error"])
    error_type = item["error"].get("type") if isinstance(item["error"], dict) else None
    if status in RETRY_STATUSES or status >= 500 or error_type == "index_not_found_exception":
        raise StoreUnavailable(f"Elasticsearch failed to {what}: {reason}")
    raise ValueError(f"Elasticsearch refused to {what}: {reason}")


@contextmanager
def unavailable_on_outage(what: str) -> Iterator[None]:
    """Connection errors, timeouts, 429 and 5xx mean "later"; a missing index means "not yet"."""
    try:
        yield
    except TransportError as exc:
        raise StoreUnavailable(f"Elasticsearch unreachable while trying to {what}: {exc}") from exc
    except ApiError as exc:
        if exc.status_code == 404 and exc.error == "index_not_found_exception":
            raise StoreNotCreated(
                f"no Elasticsearch index yet ({what}): has the indexer run?"
            ) from exc
        if exc.status_code in RETRY_STATUSES or exc.status_code >= 500:
            raise StoreUnavailable(f"Elasticsearch failed to {what}: {exc}") from exc
        raise


def client_from_url(url: str, settings: Settings) -> Elasticsearch:
    """A client of the cluster at `url` with the store's auth, CA and timeout settings (the
    alert store's indices live on the same cluster)."""
    auth: dict[str, Any] = {}
    if settings.store_api_key.get_secret_value():
        auth["api_key"] = settings.store_api_key.get_secret_value()
    elif settings.store_username:
        auth["basic_auth"] = (
            settings.store_username,
            settings.store_password.get_secret_value(),
        )
    if settings.store_ca_certs:
        auth["ca_certs"] = str(settings.store_ca_certs)
    transport_log = logging.getLogger("elastic_transport.transport")
    if transport_log.level == logging.NOTSET:  # one INFO line per request is debug detail
        transport_log.setLevel(logging.WARNING)
    return Elasticsearch(
        # several nodes, comma-separated: a request to one that is down goes to the next
        [part.strip() for part in url.split(",") if part.strip()],
        request_timeout=settings.store_timeout,
        retry_on_status=RETRY_STATUSES,
        retry_on_timeout=True,
        max_retries=2,
        **auth,
    )


class ElasticsearchStore:
    """`http(s)://host:9200`: articles in `<prefix>-vN` behind a read and a write alias."""

    def __init__(
        self, client: Elasticsearch, prefix: str = "articles", *, shards: int = 1, replicas: int = 1
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.shards = shards
        self.replicas = replicas
        self.read_alias = schema.read_alias(prefix)
        self.write_alias = schema.write_alias(prefix)
        self._analyzer = TextAnalyzer()
        self._queries = QueryTranslator(self._analyzer)
        self._ingesting = False
        self._outdated: IndexOutdated | None = None

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> ElasticsearchStore:
        return cls(
            client_from_url(url, settings),
            settings.store_index,
            shards=settings.store_shards,
            replicas=settings.store_replicas,
        )

    # -- lifecycle -----------------------------------------------------------

    def ensure_schema(self) -> None:
        """Put the templates; create `<prefix>-v1` with both aliases if there is no index,
        else bring the live indices' mapping up to this version (see _upgrade_mapping)."""
        with unavailable_on_outage("create the schema"):
            for name, component in schema.components(self.shards, self.replicas).items():
                self.client.cluster.put_component_template(
                    name=f"{self.prefix}-{name}", template=component
                )
            self.client.indices.put_index_template(
                name=self.prefix, **schema.index_template(self.prefix)
            )
            if self.client.indices.exists_alias(name=self.read_alias):
                self._upgrade_mapping()
                if self._outdated is None:
                    self._add_group_keys()
                return
            try:
                self.client.indices.create(
                    index=schema.index_name(self.prefix, 1),
                    aliases={self.read_alias: {}, self.write_alias: {"is_write_index": True}},
                )
            except ApiError as exc:
                if exc.error != "resource_already_exists_exception":
                    raise

    def _upgrade_mapping(self) -> None:
        """Add the fields of a newer schema to the indices behind both aliases, in place.

        The mapping is strict, so an index made by an older version would refuse every new
        document (dead letters, not an error anyone sees); new fields can be added to a live
        index without a reindex. A change of an existing field cannot: it is logged as an
        error naming `newsagg reindex` (which copies into an index made from the templates
        just put, so ensure_schema must not fail for it), and upserts raise it until then.
        """
        self._outdated = None
        writes_to = set(self.client.indices.get_alias(name=self.write_alias).body)
        held = self.client.indices.get_mapping(index=f"{self.read_alias},{self.write_alias}")
        for index, body in held.body.items():
            mappings = body["mappings"]
            version = mappings.get("_meta", {}).get("schema_version", 1)
            if version >= schema.SCHEMA_VERSION:
                continue
            update = schema.mapping_update()
            added = sorted(set(update["properties"]) - set(mappings.get("properties", {})))
            try:
                self.client.indices.put_mapping(index=index, **update)
            except ApiError as exc:
                if exc.status_code != 400:
                    raise
                body = exc.info if isinstance(exc.info, dict) else {}
                outdated = IndexOutdated(
                    f"the index {index} (schema {version}) cannot take schema"
                    f" {schema.SCHEMA_VERSION}'s mapping in place"
                    f" ({bulk_error_reason(body.get('error', str(exc)))})",
                    "run `newsagg reindex` to copy it into an index of the new schema",
                )
                log.error("%s", outdated)
                if index in writes_to:  # a read-only old index still answers searches
                    self._outdated = outdated
                continue
            log.warning(
                "index %s: schema %d -> %d in place, fields added: %s",
                index,
                version,
                schema.SCHEMA_VERSION,
                ", ".join(added) or "none",
            )

    def _add_group_keys(self) -> None:
        """Write the group keys (es_schema.GROUP_KEYS) into documents from before schema 3.

        Collapsing puts every document without a key into one group, so each is rewritten
        with its keys, from its own _source and with its own version (`external_gte`): a
        newer crawl written meanwhile wins (409, skipped). A rewrite of the very same crawl
        racing it (a replay started during this start-up) could be overwritten by the copy
        read before; the indexer runs this before it consumes. Checked at every start, so
        a start interrupted midway is finished by the next one; nothing to do costs one count.
        """
        indices = f"{self.read_alias},{self.write_alias}"
        keyless = {"bool": {"must_not": {"exists": {"field": schema.DUPLICATE_KEY}}}}
        if not self.client.count(index=indices, query=keyless)["count"]:
            return
        body = {"query": keyless, "sort": ["_shard_doc"], "version": True}
        actions = (
            {
                "_op_type": "index",
                "_index": raw["_index"],
                "_id": raw["_id"],
                "version": raw["_version"],
                "version_type": "external_gte",
                "_source": raw["_source"] | schema.group_keys(raw["_source"]),
            }
            for raw in self.walk(indices, body, BULK_CHUNK_DOCS)
        )
        written, failed = 0, []
        with self.bulk_ingest():  # no refresh per second while every document is rewritten
            for ok, item in helpers.streaming_bulk(
                self.client,
                actions,
                chunk_size=BULK_CHUNK_DOCS,
                max_chunk_bytes=BULK_CHUNK_BYTES,
                raise_on_error=False,
                max_retries=BULK_RETRIES,
                initial_backoff=0.5,
                retry_on_status=RETRY_STATUSES,
            ):
                result = next(iter(item.values()))
                if ok:
                    written += 1
                elif result.get("status") != 409:
                    failed.append(bulk_error_reason(result.get("error")))
        self.client.indices.refresh(index=indices)
        if failed:
            raise StoreUnavailable(f"group keys not written to {len(failed)}: {failed[0]}")
        log.warning("group keys written to %d document(s) from before schema 3", written)

    def health(self) -> bool:
        """The cluster answers and the read alias exists."""
        try:
            return bool(self.client.indices.exists_alias(name=self.read_alias))
        except (TransportError, ApiError):
            return False

    def close(self) -> None:
        self.client.close()

    def drop(self) -> None:
        """Delete every index, alias and template of this prefix (tests, teardown)."""
        with unavailable_on_outage("drop the indices"):
            self.client.indices.delete(
                index=f"{self.prefix}-v*", ignore_unavailable=True, allow_no_indices=True
            )
            self.client.options(ignore_status=404).indices.delete_index_template(name=self.prefix)
            for part in schema.COMPONENTS:
                self.client.options(ignore_status=404).cluster.delete_component_template(
                    name=f"{self.prefix}-{part}"
                )

    # -- writes --------------------------------------------------------------

    def upsert(self, articles: Sequence[Article]) -> UpsertResult:
        """Bulk-index the newest crawl of each article; see the module docstring.

        Raises IndexOutdated, writing nothing, when ensure_schema found an index whose
        mapping cannot take this version's documents: each would be refused."""
        if self._outdated is not None:
            raise self._outdated
        newest = list(newest_crawls(articles).values())
        chunks = [
            newest[start : start + UPSERT_CHUNK_DOCS]
            for start in range(0, len(newest), UPSERT_CHUNK_DOCS)
        ]
        with unavailable_on_outage("write the batch"):
            outcome = self._write(chunks)
            if outcome.written and not self._ingesting:
                self.client.indices.refresh(index=self.write_alias)
        if outcome.unavailable:
            count, first = len(outcome.unavailable), outcome.unavailable[0]
            raise StoreUnavailable(f"{count} document(s) not written: {first}")
        if outcome.rejected:
            log.warning(
                "Elasticsearch refused %d document(s): %s", len(outcome.rejected), outcome.rejected
            )
            raise StoreRejected(outcome.rejected)
        stale = outcome.stale + len(articles) - len(newest)
        return UpsertResult(written=outcome.written, stale=stale)

    def _write(self, chunks: list[list[Article]]) -> _Outcome:
        """Each chunk's documents built here, sent by UPSERT_IN_FLIGHT threads: while the
        node indexes one chunk, this thread builds the next (analysis and JSON hold the GIL,
        waiting for the node does not, so building on more threads would not be faster).
        Every chunk sent is waited for before an error is raised, so nothing is still being
        written when the caller retries."""
        if len(chunks) <= 1:
            return self._send(self._actions(chunks[0])) if chunks else _Outcome()
        sent: list[Future[_Outcome]] = []
        with ThreadPoolExecutor(UPSERT_IN_FLIGHT, thread_name_prefix="es-upsert") as pool:
            for chunk in chunks:
                actions = self._actions(chunk)
                while sum(not future.done() for future in sent) >= UPSERT_IN_FLIGHT:
                    wait(sent, return_when=FIRST_COMPLETED)
                if any(future.done() and future.exception() for future in sent):
                    break  # the node is failing: the rest would only wait for it too
                sent.append(pool.submit(self._send, actions))
        return _Outcome.sum([future.result() for future in sent])

    def _actions(self, articles: Sequence[Article]) -> list[dict[str, Any]]:
        return [
            {
                "_op_type": "index",
                "_id": article.id,
                "version": schema.version_of(article),
                "version_type": "external_gte",
                # bytes go as they are; every article came through the bus as the same JSON
                "_source": schema.to_source(article, self._analyzer),
            }
            for article in articles
        ]

    def _send(self, actions: list[dict[str, Any]]) -> _Outcome:
        """One bulk request (more past BULK_CHUNK_BYTES), retried on 429 and 5xx."""
        outcome = _Outcome()
        for ok, item in helpers.streaming_bulk(
            self.client,
            actions,
            index=self.write_alias,
            require_alias=True,
            chunk_size=UPSERT_CHUNK_DOCS,
            max_chunk_bytes=BULK_CHUNK_BYTES,
            raise_on_error=False,
            raise_on_exception=False,
            max_retries=BULK_RETRIES,
            initial_backoff=0.5,
            max_backoff=5,
            retry_on_status=RETRY_STATUSES,
        ):
            result = next(iter(item.values()))
            status = result.get("status", 500)
            if ok:
                outcome.written += 1
            elif status == 409:
                outcome.stale += 1
            elif status in PERMANENT_STATUSES:
                outcome.rejected[result["_id"]] = bulk_error_reason(result.get("error"))
            else:  # 429/5xx after retries, a missing alias, a write block: later
                outcome.unavailable.append(bulk_error_reason(result.get("error")))
        return outcome

    @contextmanager
    def bulk_ingest(self) -> Iterator[None]:
        """Periodic refresh off on the write index while a backlog is written; see the module
        docstring. The interval it had is restored even when the block raises."""
        with unavailable_on_outage("prepare a bulk ingest"):
            current = self.client.indices.get_settings(
                index=self.write_alias, name="index.refresh_interval", include_defaults=True
            )
            index, body = next(iter(current.body.items()))
            interval = (
                body.get("settings", {}).get("index", {}).get("refresh_interval")
                or body["defaults"]["index"]["refresh_interval"]
            )
            self.client.indices.put_settings(
                index=index, settings={"index": {"refresh_interval": "-1"}}
            )
        self._ingesting = True
        try:
            yield
        finally:
            self._ingesting = False
            with unavailable_on_outage("end a bulk ingest"):
                self.client.indices.put_settings(
                    index=index, settings={"index": {"refresh_interval": interval}}
                )
                self.client.indices.refresh(index=index)

    def delete_source(self, source: str) -> list[str]:
        """Delete every article of `source` (bulk deletes by id through the write alias,
        visible on return); the ids it deleted.

        Each delete carries the document's own external version: an unversioned delete
        would leave a tombstone one version higher, and for `index.gc_deletes` (60 s) the
        same crawl could not be written again, as it can on the embedded store."""
        versions = {
            article.id: schema.version_of(article)
            for article in self.scan(SearchQuery(sources=(source,)))
        }
        failed: list[str] = []
        with unavailable_on_outage("delete a source"):
            for ok, item in helpers.streaming_bulk(
                self.client,
                (
                    {
                        "_op_type": "delete",
                        "_id": article_id,
                        "version": version,
                        "version_type": "external_gte",
                    }
                    for article_id, version in versions.items()
                ),
                index=self.write_alias,
                require_alias=True,
                refresh="wait_for",
                raise_on_error=False,
                raise_on_exception=False,
                max_retries=BULK_RETRIES,
                retry_on_status=RETRY_STATUSES,
            ):
                result = next(iter(item.values()))
                if not ok and result.get("status") != 404:
                    failed.append(bulk_error_reason(result.get("error")))
        if failed:
            raise StoreUnavailable(f"{len(failed)} article(s) not deleted: {failed[0]}")
        return list(versions)

    # -- reads ---------------------------------------------------------------

    def get(self, article_id: str) -> Article | None:
        with unavailable_on_outage("get an article"):
            try:
                found = self.client.get(
                    index=self.read_alias, id=article_id, source_excludes=list(schema.TERMS_FIELDS)
                )
            except NotFoundError as exc:
                if exc.error == "index_not_found_exception":
                    raise
                return None
        return schema.from_source(found["_source"])

    def get_many(self, ids: Sequence[str]) -> dict[str, Article]:
        """One multi-get on the read alias (real-time: it sees writes not yet refreshed)."""
        if not ids:
            return {}
        with unavailable_on_outage("get articles"):
            found = self.client.mget(
                index=self.read_alias,
                ids=list(dict.fromkeys(ids)),
                source_excludes=list(schema.TERMS_FIELDS),
            )
        articles = (schema.from_source(doc["_source"]) for doc in found["docs"] if doc.get("found"))
        return {article.id: article for article in articles}

    def count(self) -> int:
        with unavailable_on_outage("count articles"):
            return int(self.client.count(index=self.read_alias)["count"])

    def search(self, query: SearchQuery) -> SearchPage:
        """One page in (score or sort_date desc, id asc) order; a cursor's page is found
        with `search_after` from its sort values, so paging has no depth limit.

        Collapsing is Elasticsearch's `collapse` on a group key (es_schema.GROUP_KEYS): the
        group's best hit under the sort, paged by `from` (collapse cannot seek), and the
        number of groups from a cardinality aggregation in the same request."""
        text_query = self._queries.build(query.query) if query.query is not None else None
        if query.query is not None and text_query is None:
            collapsing = query.collapse != Collapse.NONE
            return SearchPage(total=0, hits=[], groups=0 if collapsing else None)
        key = COLLAPSE_KEYS.get(query.collapse)
        paging: dict[str, Any] = (
            {"search_after": list(query.after)}
            if query.after and key is None
            else {"from_": query.offset}
        )
        aggregations = self._aggregations(query.facets)
        if key is not None:
            aggregations[GROUPS] = {
                "cardinality": {"field": key, "precision_threshold": GROUPS_PRECISION}
            }
        with unavailable_on_outage("search"):
            response = self.client.search(
                index=self.read_alias,
                **self._body(query, text_query),
                **paging,
                size=query.size,
                collapse={"field": key} if key is not None else None,
                aggs=aggregations or None,
                track_total_hits=True,
            )
        raw_hits = response["hits"]["hits"]
        found = dict(response.get("aggregations", {}))
        groups = found.pop(GROUPS, None)
        return SearchPage(
            total=response["hits"]["total"]["value"],
            hits=self._with_sizes([self._hit(raw, query.sort) for raw in raw_hits]),
            facets=self._facets(found),
            last_sort=tuple(raw_hits[-1]["sort"]) if raw_hits else None,
            groups=None if groups is None else int(groups["value"]),
        )

    def _with_sizes(self, hits: list[Hit]) -> list[Hit]:
        """Each hit's duplicates, story size and story sources over the whole index: one
        aggregation for the page, restricted to the page's group keys."""
        if not hits:
            return hits
        duplicate_keys = sorted({hit.duplicate_group or hit.id for hit in hits})
        story_keys = sorted({hit.story_id or hit.id for hit in hits})
        with unavailable_on_outage("count the groups of a page"):
            response = self.client.search(
                index=self.read_alias,
                size=0,
                query={
                    "bool": {
                        "should": [
                            {"terms": {schema.DUPLICATE_KEY: duplicate_keys}},
                            {"terms": {schema.STORY_KEY: story_keys}},
                        ]
                    }
                },
                aggs={
                    "duplicates": {
                        "terms": {
                            "field": schema.DUPLICATE_KEY,
                            "include": duplicate_keys,
                            "size": len(duplicate_keys),
                        }
                    },
                    "stories": {
                        "terms": {
                            "field": schema.STORY_KEY,
                            "include": story_keys,
                            "size": len(story_keys),
                        },
                        "aggs": {"sources": {"cardinality": {"field": "source"}}},
                    },
                },
            )
        found = response["aggregations"]
        duplicates = {b["key"]: b["doc_count"] for b in found["duplicates"]["buckets"]}
        stories = {b["key"]: b for b in found["stories"]["buckets"]}
        sized = []
        for hit in hits:
            sizes = {"duplicates": duplicates.get(hit.duplicate_group or hit.id, 1)}
            if story := stories.get(hit.story_id or hit.id):
                sizes["story_size"] = story["doc_count"]
                sizes["story_sources"] = story["sources"]["value"]
            sized.append(hit.model_copy(update=sizes))
        return sized

    def scan(self, query: SearchQuery, page_size: int = 500) -> Iterator[Article]:
        """Every matching article with its text, newest first, past the 10,000 that paging
        allows: a point in time walked with `search_after`, one page in memory at a time."""
        text_query = self._queries.build(query.query) if query.query is not None else None
        if query.query is not None and text_query is None:
            return
        body = self._body(query.model_copy(update={"sort": Sort.DATE}), text_query)
        body.pop("highlight")
        body["source_excludes"] = list(schema.TERMS_FIELDS)
        del body["source_includes"]
        for raw in self.walk(self.read_alias, body, page_size):
            yield schema.from_source(raw["_source"])

    def timeline(self, query: SearchQuery, interval: Interval) -> list[TimeBucket]:
        """Matches per hour, day or week of publication (UTC; calendar weeks from Monday)."""
        text_query = self._queries.build(query.query) if query.query is not None else None
        if query.query is not None and text_query is None:
            return []
        with unavailable_on_outage("count over time"):
            response = self.client.search(
                index=self.read_alias,
                query=self._body(query, text_query)["query"],
                size=0,
                aggs={
                    "timeline": {
                        "date_histogram": {
                            "field": "published_at",
                            "calendar_interval": interval.value,
                            "min_doc_count": 1,
                        }
                    }
                },
            )
        return [
            TimeBucket(start=datetime.fromtimestamp(b["key"] / 1000, UTC), count=b["doc_count"])
            for b in response["aggregations"]["timeline"]["buckets"]
        ]

    def source_stats(self) -> list[SourceStats]:
        """Articles, newest publication and newest crawl per source in the index."""
        with unavailable_on_outage("count articles per source"):
            response = self.client.search(
                index=self.read_alias, size=0, aggs=source_stats_aggregation()
            )
        return read_source_stats(response["aggregations"], _millis)

    def stats(self) -> StoreStats:
        """The documents, and the primaries' store size of the index behind the read alias."""
        with unavailable_on_outage("read the index stats"):
            response = self.client.indices.stats(index=self.read_alias, metric="store")
        size = response["_all"]["primaries"].get("store", {}).get("size_in_bytes")
        return StoreStats(documents=self.count(), size_bytes=size)

    def crawled_since(self, since: datetime) -> dict[str, int]:
        with unavailable_on_outage("count recent articles per source"):
            response = self.client.search(
                index=self.read_alias,
                size=0,
                query={"range": {"crawled_at": {"gte": since.astimezone(UTC).isoformat()}}},
                aggs=source_counts_aggregation(),
            )
        return read_source_counts(response["aggregations"])

    def walk(self, index: str, body: dict[str, Any], page_size: int) -> Iterator[dict[str, Any]]:
        """Raw hits of a search over a point in time, page by page with `search_after`.

        The sort must end on a unique field (the id, or `_shard_doc`), so ties never skip
        or repeat; writes that happen meanwhile do not shift the pages.
        """
        with unavailable_on_outage("open a point in time"):
            pit_id = self.client.open_point_in_time(index=index, keep_alive=SCAN_KEEP_ALIVE)["id"]
        after: list[Any] | None = None
        try:
            while True:
                with unavailable_on_outage("scan"):
                    response = self.client.search(
                        **body,
                        pit={"id": pit_id, "keep_alive": SCAN_KEEP_ALIVE},
                        size=page_size,
                        search_after=after,
                        track_total_hits=False,
                    )
                page = response["hits"]["hits"]
                pit_id = response.get("pit_id", pit_id)
                yield from page
                if len(page) < page_size:
                    return
                after = page[-1]["sort"]
        finally:
            try:
                self.client.close_point_in_time(id=pit_id)
            except (TransportError, ApiError) as exc:
                log.info("could not close point in time (it expires by itself): %s", exc)

    def similar(self, article_id: str, size: int = 10) -> list[Hit]:
        with unavailable_on_outage("find similar articles"):
            if not self.client.exists(index=self.read_alias, id=article_id):
                return []
            response = self.client.search(
                index=self.read_alias,
                query={
                    "more_like_this": {
                        "fields": SIMILAR_FIELDS,
                        "like": [{"_index": self.read_alias, "_id": article_id}],
                        "min_term_freq": 1,
                        "min_doc_freq": 1,
                        "minimum_should_match": "10%",
                        "max_query_terms": 25,
                    }
                },
                size=size,
                source_includes=HIT_SOURCE,
                highlight=self._highlight(None),
            )
        return [self._hit(raw, Sort.RELEVANCE) for raw in response["hits"]["hits"]]

    def near_duplicates(self, bands: Sequence[str], size: int = 100) -> list[Article]:
        """Articles sharing any of these band keys, at most `size`.

        Up to MAX_SCORED_BANDS keys (one article's), each key is a clause scoring 1, so
        those sharing the most come first and the likeliest copies survive the cap. More
        keys (a whole batch's) would pass the node's clause limit (8,192 on the test node):
        they go in `terms` queries of BANDS_PER_QUERY keys, unranked. More than a search
        may return (RESULT_WINDOW) is read from a point in time."""
        keys = list(dict.fromkeys(bands))
        if not keys or size <= 0:
            return []
        if len(keys) <= MAX_SCORED_BANDS:
            scored = [{"constant_score": {"filter": {"term": {"lsh_bands": key}}}} for key in keys]
            queries: list[dict[str, Any]] = [{"bool": {"should": scored}}]
        else:
            queries = [
                {"terms": {"lsh_bands": keys[start : start + BANDS_PER_QUERY]}}
                for start in range(0, len(keys), BANDS_PER_QUERY)
            ]
        found: dict[str, Article] = {}
        for query in queries:
            body = {
                "query": query,
                "sort": [{"_score": "desc"}, {"id": "asc"}],
                "source_excludes": list(schema.TERMS_FIELDS),
            }
            for raw in self._first(body, size - len(found), "find near-duplicate candidates"):
                found.setdefault(raw["_id"], schema.from_source(raw["_source"]))
            if len(found) >= size:
                break
        return list(found.values())[:size]

    def articles_matching(self, queries: Sequence[SearchQuery]) -> list[list[Article]]:
        """Each query's page as `search` finds it uncollapsed, in `_msearch` requests of
        MSEARCH_SEARCHES: no highlight, group-size aggregation, facets or total, and whole
        articles back."""
        if any(query.collapse != Collapse.NONE for query in queries):
            raise ValueError("articles_matching does not collapse; use search")
        pages: list[list[Article]] = [[] for _ in queries]
        asked: list[int] = []
        searches: list[dict[str, Any]] = []
        for number, query in enumerate(queries):
            text_query = self._queries.build(query.query) if query.query is not None else None
            if query.query is not None and text_query is None:
                continue
            body = self._body(query, text_query)
            paging = {"search_after": list(query.after)} if query.after else {"from": query.offset}
            searches.append({"index": self.read_alias})
            searches.append(
                {
                    "query": body["query"],
                    "sort": body["sort"],
                    "_source": {"excludes": list(schema.TERMS_FIELDS)},
                    "size": query.size,
                    "track_total_hits": False,
                    **paging,
                }
            )
            asked.append(number)
        responses: list[dict[str, Any]] = []
        for start in range(0, len(searches), 2 * MSEARCH_SEARCHES):
            with unavailable_on_outage("search articles"):
                found = self.client.msearch(searches=searches[start : start + 2 * MSEARCH_SEARCHES])
            responses.extend(found["responses"])
        for number, response in zip(asked, responses, strict=True):
            if "error" in response:
                _raise_item_error(response, "search articles")
            pages[number] = [schema.from_source(raw["_source"]) for raw in response["hits"]["hits"]]
        return pages

    def _first(self, body: dict[str, Any], size: int, what: str) -> list[dict[str, Any]]:
        """The first `size` raw hits of a search whose sort ends on the id: one request
        within the result window, else pages of a point in time."""
        if size <= schema.RESULT_WINDOW:
            with unavailable_on_outage(what):
                return list(
                    self.client.search(index=self.read_alias, **body, size=size)["hits"]["hits"]
                )
        with closing(self.walk(self.read_alias, body, BULK_CHUNK_DOCS)) as pages:
            return list(islice(pages, size))

    def story(self, story_id: str, size: int = 500) -> list[Hit]:
        """The story's articles oldest first (sort_date, then crawl time, then id)."""
        with unavailable_on_outage("read a story"):
            response = self.client.search(
                index=self.read_alias,
                query={"bool": {"filter": {"term": {schema.STORY_KEY: story_id}}}},
                sort=STORY_ORDER,
                size=size,
                source_includes=HIT_SOURCE,
                highlight=self._highlight(None),
            )
        return self._with_sizes([self._hit(raw, Sort.DATE) for raw in response["hits"]["hits"]])

    def stories(self, query: SearchQuery, size: int = 10) -> tuple[int, list[StorySummary]]:
        """The top stories are a search collapsed on the story key (best member's score, or
        newest member, as search ranks groups: a terms aggregation cannot be ordered by
        score without a script, which the integ-test-zip has no language for); then one
        aggregation summarises those stories over the whole index."""
        page = self.search(
            query.model_copy(
                update={"collapse": Collapse.STORIES, "size": size, "offset": 0, "facets": ()}
            )
        )
        keys = [hit.story_id or hit.id for hit in page.hits]
        if not keys:
            return page.groups or 0, []
        with unavailable_on_outage("summarise stories"):
            response = self.client.search(
                index=self.read_alias,
                size=0,
                query={"bool": {"filter": {"terms": {schema.STORY_KEY: keys}}}},
                aggs={"stories": self._story_aggregation(keys)},
            )
        buckets = {b["key"]: b for b in response["aggregations"]["stories"]["buckets"]}
        summaries = [self._summary(key, buckets[key]) for key in keys if key in buckets]
        return page.groups or 0, summaries

    @staticmethod
    def _story_aggregation(keys: list[str]) -> dict[str, Any]:
        return {
            "terms": {"field": schema.STORY_KEY, "include": keys, "size": len(keys)},
            "aggs": {
                "first": {
                    "top_hits": {
                        "size": 1,
                        "sort": STORY_ORDER,
                        "_source": {"includes": ["title", "source", "url", "sort_date"]},
                    }
                },
                "last": {"max": {"field": "sort_date"}},
                "sources": {
                    "terms": {
                        "field": "source",
                        "size": STORY_SOURCES,
                        "order": [{"appeared": "asc"}, {"_key": "asc"}],
                    },
                    "aggs": {"appeared": {"min": {"field": "sort_date"}}},
                },
                "people": {
                    "terms": {
                        "field": "people",
                        "size": MAX_STORY_PEOPLE,
                        "order": [{"_count": "desc"}, {"_key": "asc"}],
                    }
                },
            },
        }

    @staticmethod
    def _summary(key: str, bucket: dict[str, Any]) -> StorySummary:
        first = bucket["first"]["hits"]["hits"][0]["_source"]
        return StorySummary(
            id=key,
            title=first["title"],
            size=bucket["doc_count"],
            sources=[source["key"] for source in bucket["sources"]["buckets"]],
            first_publisher=first["source"],
            first_url=first["url"],
            first_seen=first["sort_date"],
            last_seen=_millis(bucket["last"]["value"]),
            people=[person["key"] for person in bucket["people"]["buckets"]],
        )

    # -- request pieces --------------------------------------------------------

    def _body(self, query: SearchQuery, text_query: dict[str, Any] | None) -> dict[str, Any]:
        if query.sort == Sort.DATE:
            sort: list[Any] = [{"sort_date": "desc"}, {"id": "asc"}]
        else:
            sort = [{"_score": "desc"}, {"id": "asc"}]
        return {
            "query": {"bool": {"must": text_query or MATCH_ALL, "filter": filters(query)}},
            "sort": sort,
            "source_includes": HIT_SOURCE,
            "highlight": self._highlight(query.query),
        }

    def _highlight(self, node: Any) -> dict[str, Any]:
        """Snippets from the unstemmed text: marks as <mark>, everything else HTML-escaped."""
        highlight_query = (
            self._queries.highlight_query(node) if node is not None else {"match_none": {}}
        )
        return {
            "encoder": "html",
            "pre_tags": ["<mark>"],
            "post_tags": ["</mark>"],
            "fields": {
                "text": {
                    "type": "unified",
                    "fragment_size": SNIPPET_CHARS,
                    "number_of_fragments": 1,
                    "no_match_size": SNIPPET_CHARS,
                    "highlight_query": highlight_query,
                }
            },
        }

    @staticmethod
    def _aggregations(wanted: Sequence[str]) -> dict[str, Any]:
        def terms(field: str) -> dict[str, Any]:
            return {"terms": {"field": field, "size": MAX_FACET_VALUES}}

        aggregations = {name: terms(field) for name, field in FACET_FIELDS.items()} | {
            "published_day": {
                "date_histogram": {
                    "field": "published_at",
                    "calendar_interval": "day",
                    "format": "yyyy-MM-dd",
                    "min_doc_count": 1,
                }
            },
        }
        return {name: aggregations[name] for name in wanted if name in aggregations}

    @staticmethod
    def _facets(aggregations: dict[str, Any]) -> dict[str, list[FacetCount]]:
        return {
            name: [
                FacetCount(value=str(b.get("key_as_string", b["key"])), count=b["doc_count"])
                for b in aggregation["buckets"]
            ]
            for name, aggregation in aggregations.items()
        }

    @staticmethod
    def _hit(raw: dict[str, Any], sort: Sort) -> Hit:
        source = raw["_source"]
        fragments = raw.get("highlight", {}).get("text", [])
        return Hit(
            id=source["id"],
            url=source["url"],
            title=source["title"],
            source=source["source"],
            published_at=source.get("published_at"),
            authors=source.get("authors", []),
            language=source.get("language"),
            snippet=fragments[0] if fragments else "",
            score=float(raw.get("_score") or 0.0) if sort == Sort.RELEVANCE else 0.0,
            date_source=source.get("date_source"),
            date_confidence=source.get("date_confidence"),
            quality=source.get("quality", "ok"),
            revision=source.get("revision", 1),
            updated_at=source.get("updated_at"),
            previous_title=(
                previous["title"]
                if (previous := source.get("previous")) and previous["title"] != source["title"]
                else None
            ),
            story_id=source.get("story_id"),
            duplicate_group=source.get("duplicate_group"),
            duplicate_of=source.get("duplicate_of"),
            people=source.get("people", []),
        )
