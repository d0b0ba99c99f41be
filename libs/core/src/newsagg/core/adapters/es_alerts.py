"""ElasticsearchAlertStore: saved searches in indices of their own on the store's cluster.

`<prefix>-searches` holds each SavedSearch (its JSON kept whole, not indexed; id, owner,
feed token and creation time indexed beside it), `<prefix>-matches` one document per
match under the id `<search_id>:<article_id>`, written with op_type create: recording a
match again, even a delivered one, is a 409 and changes nothing. `<prefix>-deliveries`
holds a search's open delivery under the search's id, created with op_type create, so
a search has one open delivery at a time and it is sent again as it was opened (its
article ids are in that document) until it is closed; matches recorded meanwhile are
not in it and wait for the next one.

No painless scripts and no _delete_by_query (the Elasticsearch build the tests run lacks
the painless and reindex modules): every write is a plain create, partial update or
delete. Writes to the searches and matches indices refresh them (refresh=True), so a
list, count or pending read right after sees them: writes are per batch or per user
action, not per article, so the refreshes stay few. Deliveries are only read by id (a
realtime GET), so their writes do not refresh. Outages are StoreUnavailable, as in
ElasticsearchStore.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from elasticsearch import (
    ApiError,
    ConflictError,
    Elasticsearch,
    NotFoundError,
    TransportError,
    helpers,
)
from newsagg.core.adapters.elasticsearch_store import (
    RETRY_STATUSES,
    bulk_error_reason,
    client_from_url,
    unavailable_on_outage,
)
from newsagg.core.alerts.model import Delivery, Match, SavedSearch, delivery_id
from newsagg.core.ports import StoreUnavailable
from newsagg.core.settings import Settings

_KEYWORD = {"type": "keyword"}
_TIME = {"type": "date_nanos"}
"""Microseconds survive the round trip and order exactly (a `date` keeps milliseconds)."""
MAPPINGS: dict[str, dict[str, Any]] = {
    "searches": {
        "dynamic": "strict",
        "properties": {
            "id": _KEYWORD,
            "owner": _KEYWORD,
            "feed_token": _KEYWORD,
            "created_at": _TIME,
            "updated_at": _TIME,
            "search": {"type": "object", "enabled": False},
        },
    },
    "matches": {
        "dynamic": "strict",
        "properties": {
            "search_id": _KEYWORD,
            "article_id": _KEYWORD,
            "matched_at": _TIME,
            "delivery_id": _KEYWORD,
            "delivered_at": _TIME,
        },
    },
    "deliveries": {
        "dynamic": "strict",
        "properties": {
            "id": _KEYWORD,
            "search_id": _KEYWORD,
            "article_ids": _KEYWORD,
            "opened_at": _TIME,
        },
    },
}
BULK_CHUNK = 1_000
SCAN_PAGE = 5_000
PARSED_CACHE = 20_000
"""Parsed saved searches kept by list; emptied when full."""
MODIFY_ATTEMPTS = 50
"""Read-change-write rounds before modify gives up (each loses only to a write that won)."""
MATCH_ORDER = [{"matched_at": "asc"}, {"article_id": "asc"}]
NEWEST_FIRST = [{"matched_at": "desc"}, {"article_id": "desc"}]


def _iso(at: datetime) -> str:
    """UTC ISO 8601 with microseconds; a naive datetime is taken as UTC."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()


PENDING_PAGE = 1_000
"""Searches per page of pending_counts' aggregation."""


def match_doc_id(search_id: str, article_id: str) -> str:
    return f"{search_id}:{article_id}"


@contextmanager
def _outage(what: str) -> Iterator[None]:
    """ElasticsearchStore's outage mapping; a missing alerts index says what makes it."""
    with unavailable_on_outage(what):
        try:
            yield
        except ApiError as exc:
            if exc.status_code == 404 and exc.error == "index_not_found_exception":
                raise StoreUnavailable(
                    f"no saved-search index yet ({what}): the API and the alerts worker make"
                    " it at start (AlertStore.ensure_schema)"
                ) from exc
            raise


class ElasticsearchAlertStore:
    """`http(s)://host:9200`: indices `<alerts_index>-searches`, `-matches`, `-deliveries`."""

    def __init__(self, client: Elasticsearch, prefix: str, *, replicas: int = 1) -> None:
        self.client = client
        self.prefix = prefix
        self.replicas = replicas
        self.searches = f"{prefix}-searches"
        self.matches_index = f"{prefix}-matches"
        self.deliveries = f"{prefix}-deliveries"
        self._parsed: dict[tuple[str, int, int], SavedSearch] = {}

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> ElasticsearchAlertStore:
        return cls(
            client_from_url(url, settings), settings.alerts_index, replicas=settings.store_replicas
        )

    def ensure_schema(self) -> None:
        """Create the indices that do not exist (one shard each: saved searches and their
        matches are small next to the articles)."""
        with _outage("create the saved-search indices"):
            for part, mapping in MAPPINGS.items():
                index = f"{self.prefix}-{part}"
                if self.client.indices.exists(index=index):
                    # an index made by an older version gains the fields it lacks (a
                    # strict mapping refuses documents that carry them)
                    self.client.indices.put_mapping(index=index, properties=mapping["properties"])
                    continue
                try:
                    self.client.indices.create(
                        index=index,
                        mappings=mapping,
                        settings={"number_of_shards": 1, "number_of_replicas": self.replicas},
                    )
                except ApiError as exc:
                    if exc.error != "resource_already_exists_exception":
                        raise

    # -- saved searches --------------------------------------------------------

    def _search_doc(self, search: SavedSearch) -> dict[str, Any]:
        return {
            "id": search.id,
            "owner": search.owner,
            "feed_token": search.feed_token,
            "created_at": _iso(search.created_at),
            "updated_at": _iso(search.updated_at),
            "search": search.model_dump(mode="json"),
        }

    def create(self, search: SavedSearch) -> None:
        with _outage(f"save {search.id}"):
            try:
                self.client.create(
                    index=self.searches,
                    id=search.id,
                    document=self._search_doc(search),
                    refresh=True,
                )
            except ConflictError as exc:
                raise ValueError(f"a saved search with id {search.id} exists") from exc

    def get(self, search_id: str) -> SavedSearch | None:
        with _outage(f"read {search_id}"):
            try:
                found = self.client.get(index=self.searches, id=search_id, source=["search"])
            except NotFoundError as exc:
                if exc.error == "index_not_found_exception":
                    raise
                return None
        return SavedSearch.model_validate(found["_source"]["search"])

    def by_feed_token(self, token: str) -> SavedSearch | None:
        hits = self._find({"term": {"feed_token": token}}, size=1)
        return hits[0] if hits else None

    def _find(self, query: dict[str, Any], size: int) -> list[SavedSearch]:
        with _outage("find saved searches"):
            response = self.client.search(
                index=self.searches,
                query=query,
                size=size,
                sort=[{"created_at": "asc"}, {"id": "asc"}],
                source=["search"],
            )
        return [SavedSearch.model_validate(hit["_source"]["search"]) for hit in _hits(response)]

    def list(self, owner: str | None = None) -> list[SavedSearch]:
        """The ids and versions by a scroll (the alerts worker lists every owner's, 10,000
        and more, every few seconds), then only the saved searches not parsed before at
        that version fetched and parsed; put in order here, since a scroll does not sort."""
        query = {"term": {"owner": owner}} if owner is not None else {"match_all": {}}
        found: dict[str, SavedSearch] = {}
        with _outage("list saved searches"):
            missing: list[str] = []
            for hit in helpers.scan(
                self.client,
                index=self.searches,
                query={"query": query, "_source": False},
                size=SCAN_PAGE,
                seq_no_primary_term=True,
            ):
                cached = self._parsed.get((hit["_id"], hit["_seq_no"], hit["_primary_term"]))
                if cached is None:
                    missing.append(hit["_id"])
                else:
                    found[hit["_id"]] = cached
            for start in range(0, len(missing), SCAN_PAGE):
                docs = self.client.mget(
                    index=self.searches, ids=missing[start : start + SCAN_PAGE], source=["search"]
                )["docs"]
                for doc in docs:
                    if doc.get("found"):  # else deleted since the scroll saw it
                        found[doc["_id"]] = self._parse(doc)
        return sorted(found.values(), key=lambda search: (search.created_at, search.id))

    def _parse(self, doc: dict[str, Any]) -> SavedSearch:
        """The SavedSearch of a fetched document, kept by id and version for list (it is
        frozen, so one object serves every caller)."""
        if len(self._parsed) >= PARSED_CACHE:
            self._parsed.clear()
        search = SavedSearch.model_validate(doc["_source"]["search"])
        self._parsed[(doc["_id"], doc["_seq_no"], doc["_primary_term"])] = search
        return search

    def count(self, owner: str) -> int:
        with _outage("count saved searches"):
            return int(
                self.client.count(index=self.searches, query={"term": {"owner": owner}})["count"]
            )

    def revision(self) -> str:
        """How many saved searches there are and the newest updated_at, in one request
        (a document written before updated_at was mapped counts until its owner changes
        it). The searches index refreshes on every write, so this sees each at once."""
        with _outage("read the saved searches' revision"):
            response = self.client.search(
                index=self.searches,
                size=0,
                track_total_hits=True,
                aggs={"newest": {"max": {"field": "updated_at"}}},
            )
        newest = response["aggregations"]["newest"]
        return f"{response['hits']['total']['value']}:{newest.get('value_as_string')}"

    def update(self, search: SavedSearch) -> None:
        """A partial update that sets every field (the model always dumps them all): it
        replaces the document only if it exists."""
        with _outage(f"update {search.id}"):
            try:
                self.client.update(
                    index=self.searches,
                    id=search.id,
                    doc=self._search_doc(search),
                    refresh=True,
                )
            except NotFoundError as exc:
                if exc.error == "document_missing_exception":
                    raise KeyError(search.id) from exc
                raise

    def modify(self, search_id: str, change: Callable[[SavedSearch], SavedSearch]) -> SavedSearch:
        """Optimistic: write only if the document is still the version read (if_seq_no),
        else read the newer one and change that."""
        with _outage(f"update {search_id}"):
            for _ in range(MODIFY_ATTEMPTS):
                try:
                    found = self.client.get(index=self.searches, id=search_id)
                except NotFoundError as exc:
                    if exc.error == "index_not_found_exception":
                        raise
                    raise KeyError(search_id) from exc
                changed = change(SavedSearch.model_validate(found["_source"]["search"]))
                if changed.id != search_id:
                    raise ValueError(f"a change of {search_id} may not change its id")
                try:
                    self.client.index(
                        index=self.searches,
                        id=search_id,
                        document=self._search_doc(changed),
                        if_seq_no=found["_seq_no"],
                        if_primary_term=found["_primary_term"],
                        refresh=True,
                    )
                except ConflictError:
                    continue  # written meanwhile: change the newer version
                return changed
        raise StoreUnavailable(
            f"{search_id} changed under each of {MODIFY_ATTEMPTS} attempts to update it"
        )

    def delete(self, search_id: str) -> bool:
        """The search first, then its matches and open delivery: a batch matched while the
        search was being deleted may still record matches (add_matches checks the search
        exists, then writes); they are never delivered, and a delete of the id removes them."""
        with _outage(f"delete {search_id}"):
            try:
                self.client.delete(index=self.searches, id=search_id, refresh=True)
                existed = True
            except NotFoundError as exc:
                if exc.error == "index_not_found_exception":
                    raise
                existed = False
            # no _delete_by_query: it is the reindex module's, which the test build lacks
            owned = helpers.scan(
                self.client,
                index=self.matches_index,
                query={"query": {"term": {"search_id": search_id}}, "_source": False},
            )
            self._bulk(
                [
                    {"_op_type": "delete", "_index": self.matches_index, "_id": hit["_id"]}
                    for hit in owned
                ],
                f"delete the matches of {search_id}",
            )
            self.client.options(ignore_status=404).delete(index=self.deliveries, id=search_id)
        return existed

    # -- matches and deliveries ------------------------------------------------

    def add_matches(self, matches: Sequence[Match]) -> int:
        """Matches of a search that does not exist (deleted while its batch was being
        matched) are not recorded."""
        if not matches:
            return 0
        search_ids = sorted({m.search_id for m in matches})
        with _outage(f"record {len(matches)} matches"):
            found = self.client.mget(index=self.searches, ids=search_ids, source=False)
            existing = {doc["_id"] for doc in found["docs"] if doc.get("found")}
            actions = [
                {
                    "_op_type": "create",
                    "_index": self.matches_index,
                    "_id": match_doc_id(m.search_id, m.article_id),
                    "_source": {
                        "search_id": m.search_id,
                        "article_id": m.article_id,
                        "matched_at": _iso(m.matched_at),
                    },
                }
                for m in matches
                if m.search_id in existing
            ]
            return sum(1 for item in self._bulk(actions, "record matches") if item["status"] == 201)

    def prune(self, before: datetime, undelivered_of: Sequence[str] = ()) -> int:
        """The ids by a scroll, then bulk deletes (no _delete_by_query: the test build
        lacks the reindex module)."""
        cutoff = {"range": {"matched_at": {"lt": _iso(before)}}}
        delivered = {"bool": {"filter": [cutoff, {"exists": {"field": "delivered_at"}}]}}
        ids = list(dict.fromkeys(undelivered_of))
        queries = [delivered]
        for start in range(0, len(ids), SCAN_PAGE):
            undeliverable = {
                "bool": {
                    "filter": [cutoff, {"terms": {"search_id": ids[start : start + SCAN_PAGE]}}],
                    "must_not": [{"exists": {"field": "delivery_id"}}],
                }
            }
            queries.append(undeliverable)
        deleted = 0
        with _outage("prune matches"):
            for query in queries:
                old = helpers.scan(
                    self.client,
                    index=self.matches_index,
                    query={"query": query, "_source": False},
                    size=SCAN_PAGE,
                )
                results = self._bulk(
                    [
                        {"_op_type": "delete", "_index": self.matches_index, "_id": hit["_id"]}
                        for hit in old
                    ],
                    "prune matches",
                )
                deleted += sum(1 for result in results if result["status"] == 200)
        return deleted

    def _bulk(self, actions: list[dict[str, Any]], what: str) -> list[dict[str, Any]]:
        """Each action's result; a refused create of an existing id (409) or an update of a
        document gone (404) is a result, any other refusal an error."""
        results: list[dict[str, Any]] = []
        for _ok, item in helpers.streaming_bulk(
            self.client,
            actions,
            chunk_size=BULK_CHUNK,
            raise_on_error=False,
            max_retries=2,
            refresh=True,
        ):
            result = next(iter(item.values()))
            status = int(result.get("status", 500))
            if status >= 300 and status not in (404, 409):
                reason = bulk_error_reason(result.get("error"))
                if status in RETRY_STATUSES or status >= 500:
                    raise StoreUnavailable(f"Elasticsearch failed to {what}: {reason}")
                raise ValueError(f"Elasticsearch refused to {what}: {reason}")
            results.append(result)
        return results

    def pending_counts(self) -> dict[str, int]:
        """A composite aggregation, paged: exact however many searches have some."""
        counts: dict[str, int] = {}
        after: dict[str, Any] | None = None
        while True:
            composite: dict[str, Any] = {
                "size": PENDING_PAGE,
                "sources": [{"search": {"terms": {"field": "search_id"}}}],
            }
            if after is not None:
                composite["after"] = after
            with _outage("count pending matches"):
                response = self.client.search(
                    index=self.matches_index,
                    size=0,
                    query={"bool": {"must_not": [{"exists": {"field": "delivered_at"}}]}},
                    aggs={"pending": {"composite": composite}},
                )
            found = response["aggregations"]["pending"]
            for bucket in found["buckets"]:
                counts[bucket["key"]["search"]] = bucket["doc_count"]
            after = found.get("after_key")
            if len(found["buckets"]) < PENDING_PAGE or after is None:
                return counts

    def pending(self, search_id: str, limit: int = 500) -> list[Match]:
        return self._matches(
            {
                "bool": {
                    "filter": [{"term": {"search_id": search_id}}],
                    "must_not": [{"exists": {"field": "delivered_at"}}],
                }
            },
            MATCH_ORDER,
            limit,
        )

    def _matches(self, query: dict[str, Any], sort: list[dict[str, str]], size: int) -> list[Match]:
        with _outage("read matches"):
            response = self.client.search(
                index=self.matches_index, query=query, sort=sort, size=size
            )
        return [Match.model_validate(hit["_source"]) for hit in _hits(response)]

    def open_delivery(self, search_id: str, limit: int = 500) -> Delivery | None:
        """The open delivery's document names its articles, so it comes back the same;
        then the matches are marked with its id (for pending and the API)."""
        with _outage(f"open a delivery of {search_id}"):
            opened = self._open(search_id)
            if opened is not None:
                return opened
            waiting = self.pending(search_id, limit)
            if not waiting:
                return None
            new_id = delivery_id(search_id, waiting[0].matched_at, [m.article_id for m in waiting])
            try:
                self.client.create(
                    index=self.deliveries,
                    id=search_id,
                    document={
                        "id": new_id,
                        "search_id": search_id,
                        "article_ids": [m.article_id for m in waiting],
                        "opened_at": _iso(datetime.now(UTC)),
                    },
                )
            except ConflictError:  # another worker opened one first: that is the open one
                return self._open(search_id)
            self._bulk(
                [
                    {
                        "_op_type": "update",
                        "_index": self.matches_index,
                        "_id": match_doc_id(search_id, m.article_id),
                        "doc": {"delivery_id": new_id},
                    }
                    for m in waiting
                ],
                f"mark the matches of {new_id}",
            )
        return Delivery(
            id=new_id,
            search_id=search_id,
            matches=tuple(m.model_copy(update={"delivery_id": new_id}) for m in waiting),
        )

    def _open(self, search_id: str) -> Delivery | None:
        """The search's open delivery, if it has one not yet closed. A document whose
        matches are all delivered was closed by a worker that stopped before deleting it."""
        found = self.client.options(ignore_status=404).get(index=self.deliveries, id=search_id)
        if not found.get("found"):
            return None
        doc = found["_source"]
        ids = [match_doc_id(search_id, article_id) for article_id in doc["article_ids"]]
        docs = self.client.mget(index=self.matches_index, ids=ids)["docs"]
        matches = [Match.model_validate(d["_source"]) for d in docs if d.get("found")]
        if any(m.delivered_at is None for m in matches):
            return Delivery(
                id=doc["id"],
                search_id=search_id,
                matches=tuple(m.model_copy(update={"delivery_id": doc["id"]}) for m in matches),
            )
        self._forget(search_id, found)
        return None

    def _forget(self, search_id: str, found: Any) -> None:
        """Delete the delivery document read as `found`, unless it changed since."""
        self.client.options(ignore_status=(404, 409)).delete(
            index=self.deliveries,
            id=search_id,
            if_seq_no=found["_seq_no"],
            if_primary_term=found["_primary_term"],
        )

    def close_delivery(self, delivery: Delivery, at: datetime) -> None:
        """Mark the matches delivered, then drop the open delivery's document. A delivery
        no longer open (closed before) is left as it is."""
        with _outage(f"close delivery {delivery.id}"):
            found = self.client.options(ignore_status=404).get(
                index=self.deliveries, id=delivery.search_id
            )
            if not found.get("found") or found["_source"]["id"] != delivery.id:
                return
            self._bulk(
                [
                    {
                        "_op_type": "update",
                        "_index": self.matches_index,
                        "_id": match_doc_id(m.search_id, m.article_id),
                        "doc": {"delivery_id": delivery.id, "delivered_at": _iso(at)},
                    }
                    for m in delivery.matches
                ],
                f"close delivery {delivery.id}",
            )
            self._forget(delivery.search_id, found)

    def matches(
        self, search_id: str, since: datetime | None = None, limit: int = 100
    ) -> list[Match]:
        filters: list[dict[str, Any]] = [{"term": {"search_id": search_id}}]
        if since is not None:
            filters.append({"range": {"matched_at": {"gte": _iso(since)}}})
        return self._matches({"bool": {"filter": filters}}, NEWEST_FIRST, limit)

    # -- lifecycle -------------------------------------------------------------

    def health(self) -> bool:
        """The cluster answers and the indices exist."""
        try:
            return bool(self.client.indices.exists(index=[self.searches, self.matches_index]))
        except (TransportError, ApiError):
            return False

    def close(self) -> None:
        self.client.close()

    def drop(self) -> None:
        """Delete the indices (tests share one node)."""
        with _outage("drop the saved-search indices"):
            self.client.indices.delete(
                index=[f"{self.prefix}-{part}" for part in MAPPINGS], ignore_unavailable=True
            )


def _hits(response: Any) -> list[dict[str, Any]]:
    return list(response["hits"]["hits"])
