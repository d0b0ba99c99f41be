"""ElasticsearchMatcher: the candidate saved searches run on the live index, restricted to the
batch, as `_msearch` requests.

Each candidate search (presearch) is translated by the store's own QueryTranslator and
filters (es_query), the same bool query ElasticsearchStore.search() sends, with one more
filter: an `ids` filter naming the batch's articles that hold the search's keys. Run on the
read alias, the index that holds the articles (same mapping, same analysis), a saved search
finds an article here if and only if the store's search() finds it. No highlight, no
aggregations, no _source: only the ids of what matched.

Not the percolator. Elasticsearch's percolator (queries stored in an index, documents run
against them) is the at-scale way, but the build that runs here, Maven Central's integ-test
distribution, lacks its module (like analysis-common and painless), and no 9.x percolator
is published on Maven Central (org.codelibs has 7.10.2, org.elasticsearch.plugin's
percolator-client 7.17.29). The presearcher does the percolator's candidate selection in
Python; this path is what the contract suite runs against the real node.

The alerts worker waits until get_many (real-time) sees the batch; a search sees only what
a refresh made searchable, so when the batch is not all searchable yet (the indexer's
refresh still running, or a bulk_ingest() with refreshes off) the read alias is refreshed
first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from newsagg.core.adapters.elasticsearch_store import (
    RETRY_STATUSES,
    ElasticsearchStore,
    unavailable_on_outage,
)
from newsagg.core.adapters.es_query import MATCH_ALL, QueryTranslator, filters
from newsagg.core.adapters.text_analyzer import TextAnalyzer
from newsagg.core.alerts.model import SavedSearch
from newsagg.core.alerts.presearch import Candidate, Presearcher
from newsagg.core.article import Article
from newsagg.core.ports import StoreUnavailable

MSEARCH_CHUNK = 200
"""Searches per _msearch request: a few hundred KB of request, one round trip each."""


class ElasticsearchMatcher:
    """Matches saved searches against batches on the store's own index and analysis."""

    def __init__(self, store: ElasticsearchStore) -> None:
        self.client = store.client
        self.index = store.read_alias
        analyzer = TextAnalyzer()
        self._queries = QueryTranslator(analyzer)
        self.presearcher = Presearcher(analyzer.analyze)

    def match(
        self, searches: Sequence[SavedSearch], articles: Sequence[Article]
    ) -> dict[str, list[str]]:
        batch = list({article.id: article for article in articles}.values())
        candidates = self.presearcher.candidates(searches, batch)
        requests = []
        for candidate in candidates:
            body = self._body(candidate, [batch[i].id for i in candidate.articles])
            if body is not None:
                requests.append((candidate.search.id, body))
        if not requests:
            return {}
        self._searchable([article.id for article in batch])
        found: dict[str, list[str]] = {}
        for start in range(0, len(requests), MSEARCH_CHUNK):
            chunk = requests[start : start + MSEARCH_CHUNK]
            lines: list[dict[str, Any]] = []
            for _, body in chunk:
                lines += [{"index": self.index}, body]
            with unavailable_on_outage("match saved searches"):
                responses = self.client.msearch(searches=lines)["responses"]
            for (search_id, _), response in zip(chunk, responses, strict=True):
                if "error" in response:
                    _raise(response)
                ids = sorted(hit["_id"] for hit in response["hits"]["hits"])
                if ids:
                    found[search_id] = ids
        return found

    def _body(self, candidate: Candidate, ids: list[str]) -> dict[str, Any] | None:
        """The store's bool query for the search, restricted to `ids`; None when nothing in
        its text is searchable (the store finds nothing)."""
        node = candidate.query.query
        text_query = self._queries.build(node) if node is not None else None
        if node is not None and text_query is None:
            return None
        restricted = [*filters(candidate.query), {"ids": {"values": ids}}]
        return {
            "query": {"bool": {"must": text_query or MATCH_ALL, "filter": restricted}},
            "size": len(ids),
            "_source": False,
            "track_total_hits": False,
        }

    def _searchable(self, ids: list[str]) -> None:
        """Refresh the index when some of the batch is not searchable yet."""
        with unavailable_on_outage("check the batch is searchable"):
            visible = self.client.count(index=self.index, query={"ids": {"values": ids}})
            if int(visible["count"]) < len(ids):
                self.client.indices.refresh(index=self.index)

    def close(self) -> None:
        """The client is the store's: the store closes it."""


def _raise(response: dict[str, Any]) -> None:
    """One search of an _msearch failed: an overloaded or missing index is for later."""
    status = int(response.get("status", 500))
    error = response["error"]
    if (
        status in RETRY_STATUSES
        or status >= 500
        or error.get("type") == "index_not_found_exception"
    ):
        raise StoreUnavailable(f"Elasticsearch failed to match saved searches: {error}")
    raise RuntimeError(f"Elasticsearch refused a saved search's query ({status}): {error}")
