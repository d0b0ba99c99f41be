"""TantivyMatcher: the embedded store's matcher, which runs the candidate saved searches on
an in-memory tantivy index of the batch.

The batch's articles (as the store holds them, enriched) go into a RAM index made exactly as
the store makes its own: tantivy_schema's schema, `news` analyzer and `to_document`; each
candidate search (presearch) is translated by the store's QueryBuilder and
tantivy_query.full_query, filters included, and run there. A saved search thus finds an
article here if and only if the store's search() finds it, whatever the analysis (folding,
stemming, phrases) or the filter. The index is in the current layout: on a store made
before a filter field existed, where search() refuses that filter (IndexOutdated), matching
still applies it.
"""

from __future__ import annotations

from collections.abc import Sequence

import tantivy
from newsagg.core.adapters.tantivy_query import QueryBuilder, full_query
from newsagg.core.adapters.tantivy_schema import (
    ANALYZER,
    CURRENT,
    news_analyzer,
    schema,
    to_document,
)
from newsagg.core.alerts.model import SavedSearch
from newsagg.core.alerts.presearch import Presearcher
from newsagg.core.article import Article
from newsagg.core.ports import SearchStore
from newsagg.core.search import SearchQuery
from tantivy import Query

WRITER_HEAP = 15_000_000
"""Bytes: tantivy's smallest writer heap; a batch of a few hundred articles fits."""


class TantivyMatcher:
    """Matches saved searches against batches with the embedded store's own analysis."""

    def __init__(self, store: SearchStore) -> None:
        # The store is not read: the batch arrives as the store holds it, and its index,
        # schema and queries are rebuilt here from the same code.
        del store
        self._analyzer = news_analyzer()
        self._schema = schema()
        self._queries = QueryBuilder(self._schema, self._analyzer)
        self.presearcher = Presearcher(self._analyzer.analyze)
        self._translated: dict[str, tuple[SearchQuery, Query | None]] = {}

    def match(
        self, searches: Sequence[SavedSearch], articles: Sequence[Article]
    ) -> dict[str, list[str]]:
        batch = list({article.id: article for article in articles}.values())
        candidates = self.presearcher.candidates(searches, batch)
        if not candidates:
            return {}
        if len(self._translated) > 2 * len(searches):  # deleted searches' translations go
            current = {search.id for search in searches}
            self._translated = {k: v for k, v in self._translated.items() if k in current}
        searcher, ids = self._index(batch)
        found: dict[str, list[str]] = {}
        for candidate in candidates:
            full = self._query(candidate.search.id, candidate.query)
            if full is None:
                continue  # nothing searchable in it: the store finds nothing either
            hits = searcher.search(full, limit=len(batch), count=False).hits
            if hits:
                found[candidate.search.id] = sorted(
                    ids[(address.segment_ord, address.doc)] for _, address in hits
                )
        return found

    def _query(self, search_id: str, query: SearchQuery) -> Query | None:
        """The store's tantivy query for a search, translated once while it is unchanged
        (a Query holds field ids, the same in every index of this schema)."""
        known = self._translated.get(search_id)
        if known is not None and known[0] is query:
            return known[1]
        node = query.query
        text_query = self._queries.build(node) if node is not None else None
        full = (
            None
            if node is not None and text_query is None
            else full_query(self._schema, query, text_query, CURRENT)
        )
        self._translated[search_id] = (query, full)
        return full

    def _index(self, batch: list[Article]) -> tuple[tantivy.Searcher, dict[tuple[int, int], str]]:
        """A RAM index of the batch, its searcher and each document's article id."""
        index = tantivy.Index(self._schema)
        index.register_tokenizer(ANALYZER, self._analyzer)
        # Reloaded by hand after the one commit: the default policy's own reload on commit
        # made the one below wait for it (~8 ms a batch).
        index.config_reader(reload_policy="Manual", num_warmers=0)
        writer = index.writer(heap_size=WRITER_HEAP, num_threads=1)
        for article in batch:
            writer.add_document(to_document(article))
        writer.commit()
        index.reload()
        searcher = index.searcher()
        everything = searcher.search(Query.all_query(), limit=len(batch), count=False).hits
        ids = {
            (address.segment_ord, address.doc): str(searcher.doc(address).get_first("id"))
            for _, address in everything
        }
        return searcher, ids

    def close(self) -> None:
        """Nothing outlives a batch but the searches' index and translations: plain memory."""
