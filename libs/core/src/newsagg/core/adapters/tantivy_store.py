"""TantivyStore: the embedded SearchStore, a tantivy index in a directory under ./data.

One process writes (the indexer; tantivy's lock file enforces it); any number
of processes read and pick up the writer's commits by reloading at most every
`reload_interval` seconds. Queries are built from our AST with tantivy's Query
objects (tantivy_query) over the layout in tantivy_schema, so no user string
ever reaches tantivy's query parser.

Damage is checked before tantivy sees the directory (see tantivy_check): at open,
and at each reload for the files that changed since, so a damaged index raises
DataCorrupted instead of becoming a new empty index or failing mid-query.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import html
import logging
import math
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tantivy
from newsagg.core.adapters.shared_search import (
    FACET_FIELDS,
    MAX_FACET_VALUES,
    MAX_SOURCES,
    MAX_STORY_PEOPLE,
    SNIPPET_CHARS,
    read_source_counts,
    read_source_stats,
    source_counts_aggregation,
    source_stats_aggregation,
)
from newsagg.core.adapters.tantivy_check import REMEDY, IndexCheck
from newsagg.core.adapters.tantivy_query import QueryBuilder, any_term, full_query, require
from newsagg.core.adapters.tantivy_schema import (
    ANALYZER,
    CURRENT,
    Layout,
    from_document,
    from_nanos,
    naive_utc,
    nanos_of,
    nanos_value,
    news_analyzer,
    schema,
    to_document,
)
from newsagg.core.article import Article, newest_crawls
from newsagg.core.cores import available_cores
from newsagg.core.ports import (
    DataCorrupted,
    StoreNotCreated,
    StoreStats,
    StoreUnavailable,
    UpsertResult,
)
from newsagg.core.query import Node, Or, Term
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
from tantivy import Occur, Order, Query

log = logging.getLogger("newsagg.store")
MATCHES = "_matches"
SIMILAR_TERMS = 25
"""Words of an article that make its more-like-this query (Elasticsearch's max_query_terms)."""
"""The aggregation beside the facets that counts the matches."""
PARSED_CACHED = 2_048
"""Stored articles the enrichment's reads keep parsed, by their stored bytes (about 20 KB
each with its key for an enriched article of a few hundred words, so up to ~40 MB):
in a busy story window the same recent articles are the candidates of article after
article (and an agency text's first copies those of its later ones), and parsing each
one's stored JSON was half of a story-candidate search."""
WORD_QUERIES_CACHED = 20_000
"""Plain words whose query (the word in title or text) the story searches keep built: a
story search is an Or of 32 words of an article, the same recent words come back search
after search, and building their queries was a third of the call's time (a profile of
enrichment on mixed texts)."""
TIES_GUESS = 64
"""Articles of one second read at once (by id) when a date page's edge cuts through it."""
GROUP_FIELDS = {Collapse.DUPLICATES: "duplicate_group", Collapse.STORIES: "story_id"}
COLLAPSE_READ = 32
"""Hits a collapsed page reads at least; more (x4 each time) while groups are missing."""
MAX_COLLAPSE_READ = 10_000
"""Hits a collapsed page reads at most: the depth collapsed paging reaches."""
EXACT_GROUPS = 1_000
"""Up to this many matches a collapsed search counts its groups exactly (a terms
aggregation, ~2 us a match); above, tantivy's HyperLogLog estimates them (~0.3 us a
match, within a few percent), as Elasticsearch's cardinality does."""
Sizes = tuple[int, int, int]
"""(duplicates, story_size, story_sources) of a hit, over the whole index."""
WRITER_THREADS = 1
"""tantivy's indexing threads. Each commit writes one segment per thread that got
documents: on this shared 2-core machine two threads cost 2-30 % more CPU per article
(twice the segments to write, fsync and merge) and were slower in 9 of 10 alternating
runs, the other core being busy with the merges and the document building
(`bench/index.py --writer-threads 1,2`; issue 16)."""
WRITER_HEAP = 64_000_000
"""Bytes each indexing thread buffers before it writes a segment mid-batch; a batch of
1,000 articles (bench/index.py's) is written as one segment."""


INTERVALS: dict[Interval, dict[str, str]] = {
    Interval.HOUR: {"fixed_interval": "1h"},
    Interval.DAY: {"fixed_interval": "1d"},
    Interval.WEEK: {"fixed_interval": "7d", "offset": "4d"},  # the epoch was a Thursday
}


def _highlight(fragment: str, ranges: list[Any]) -> str:
    """Escape the fragment and wrap the highlighted ranges in <mark>."""
    data = fragment.encode("utf-8")
    out: list[str] = []
    last = 0
    for span in sorted(ranges, key=lambda r: r.start):
        out.append(html.escape(data[last : span.start].decode("utf-8", "ignore")))
        out.append(
            f"<mark>{html.escape(data[span.start : span.end].decode('utf-8', 'ignore'))}</mark>"
        )
        last = span.end
    out.append(html.escape(data[last:].decode("utf-8", "ignore")))
    return "".join(out)


def _lead(text: str) -> str:
    """The start of the text, cut at a word boundary: the snippet when no term is in the body."""
    if len(text) <= SNIPPET_CHARS:
        return html.escape(text)
    return html.escape(text[:SNIPPET_CHARS].rsplit(" ", 1)[0]) + " …"


def _seen(article: Article) -> datetime:
    return article.published_at or article.crawled_at


def _hit(article: Article, snippet: str, score: float, sizes: Sizes = (1, 1, 1)) -> Hit:
    return Hit(
        id=article.id,
        url=article.url,
        title=article.title,
        source=article.source,
        published_at=article.published_at,
        authors=article.authors,
        language=article.language,
        snippet=snippet,
        score=score,
        date_source=article.date_source,
        date_confidence=article.date_confidence,
        quality=article.quality,
        revision=article.revision,
        updated_at=article.updated_at,
        previous_title=(
            article.previous.title
            if article.previous is not None and article.previous.title != article.title
            else None
        ),
        story_id=article.story_id,
        duplicate_group=article.duplicate_group,
        duplicate_of=article.duplicate_of,
        people=article.people,
        duplicates=sizes[0],
        story_size=sizes[1],
        story_sources=sizes[2],
    )


def _address(address: Any) -> tuple[int, int]:
    return (address.segment_ord, address.doc)


@functools.cache
def _facet_pool() -> ThreadPoolExecutor:
    """The threads facet passes run on, shared by every store of the process (a searcher
    may be used from several threads)."""
    return ThreadPoolExecutor(available_cores(), thread_name_prefix="tantivy-facets")


class TantivyStore:
    """The embedded SearchStore: `tantivy:///data/index`."""

    def __init__(
        self,
        path: Path,
        *,
        writable: bool,
        reload_interval: float = 0.25,
        writer_threads: int = WRITER_THREADS,
    ) -> None:
        self.path = path
        self.writable = writable
        self.reload_interval = reload_interval
        self.writer_threads = writer_threads
        self._analyzer = news_analyzer()
        self._lock = threading.Lock()
        self._last_reload = 0.0
        self._index: tantivy.Index | None = None
        self._writer: tantivy.IndexWriter | None = None
        self._layout = CURRENT
        self._check = IndexCheck(path)
        self._parsed: OrderedDict[tuple[Any, str], Article] = OrderedDict()
        self._parsed_lock = threading.Lock()
        self._word_queries: OrderedDict[str, Query | None] = OrderedDict()
        self._words_lock = threading.Lock()
        self._overlap = available_cores() > 1
        """Facet passes beside the ranking pass: with one core there is nothing to overlap."""

    # -- lifecycle -----------------------------------------------------------

    def ensure_schema(self) -> None:
        """Open (or, for the writer, create) the index directory."""
        with self._lock:
            self._open()

    def _open(self) -> tantivy.Index:
        if self._index is not None:
            return self._index
        exists = self._check.exists()
        if exists:
            self._check.check()
        elif not self.writable:
            raise StoreNotCreated(f"no index at {self.path} yet: has the indexer run?")
        try:
            # An index opens in the layout it was made with (tantivy refuses another).
            self._layout = Layout.of(self.path) if exists else CURRENT
            if exists:
                index = tantivy.Index.open(str(self.path))
            else:
                self.path.mkdir(parents=True, exist_ok=True)
                index = tantivy.Index(schema(), path=str(self.path), reuse=True)
            index.register_tokenizer(ANALYZER, self._analyzer)
            if self.writable:
                threads = self.writer_threads
                self._writer = index.writer(heap_size=threads * WRITER_HEAP, num_threads=threads)
        except (OSError, ValueError) as exc:
            if "corrupt" in str(exc).lower():  # what the checksums cannot see, tantivy may
                raise DataCorrupted(self.path, f"tantivy cannot open it ({exc})", REMEDY) from exc
            raise StoreUnavailable(f"cannot open index {self.path}: {exc}") from exc
        if self._layout.missing:
            log.warning("%s", self._layout.describe(self.path))
        self._index = index
        self._builder = QueryBuilder(index.schema, self._analyzer)
        with self._words_lock:
            self._word_queries.clear()
        self._last_reload = time.monotonic()
        return index

    def _searcher(self) -> tantivy.Searcher:
        with self._lock:
            index = self._open()
            if time.monotonic() - self._last_reload >= self.reload_interval:
                self._check.check()
                index.reload()
                self._last_reload = time.monotonic()
            return index.searcher()

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.wait_merging_threads()
            self._writer = None
            self._index = None

    def health(self) -> bool:
        """False while the index cannot be opened; DataCorrupted when it is damaged."""
        try:
            self._searcher()
        except StoreUnavailable:
            return False
        return True

    # -- writes --------------------------------------------------------------

    def upsert(self, articles: Sequence[Article]) -> UpsertResult:
        """Add the batch's new articles, replace those it crawled later, in one commit.

        The crawl times already stored are read for the whole batch in one query (not one
        per article), and only articles already stored are deleted before being added
        again: a delete costs a term lookup in every segment at commit. This writer is the
        index's only one (tantivy's lock), and it reloads after each commit, so its searcher
        is current without a reload before the lookup.

        Nearly all of an upsert is tantivy's (bench/index.py: 0.84x to 1x the rate per
        CPU-second of tantivy alone on the same documents): analysing and indexing each
        article, and a commit that returns once durable, ~90 ms here even for one article
        (tantivy fsyncs every file of the new segment, its list of files and meta.json).
        """
        newest = newest_crawls(articles)
        with self._lock:
            self._open()
            index, writer = self._index, self._writer
            if index is None or writer is None:
                raise StoreUnavailable("this TantivyStore was opened read-only")
            stored = self._stored_crawls(index.searcher(), list(newest))
            written = stale = 0
            try:
                for article in newest.values():
                    held = stored.get(article.id)
                    if held is not None:
                        if held > nanos_of(article.crawled_at):
                            stale += 1
                            continue
                        writer.delete_documents_by_term("id", article.id)
                    writer.add_document(to_document(article, self._layout))
                    written += 1
                writer.commit()
            except (OSError, ValueError) as exc:
                writer.rollback()
                raise StoreUnavailable(f"index write failed: {exc}") from exc
            index.reload()
        return UpsertResult(written=written, stale=stale + len(articles) - len(newest))

    def delete_source(self, source: str) -> list[str]:
        """Delete every article of `source` in one commit; the ids it deleted."""
        ids = [article.id for article in self.scan(SearchQuery(sources=(source,)))]
        with self._lock:
            self._open()
            index, writer = self._index, self._writer
            if index is None or writer is None:
                raise StoreUnavailable("this TantivyStore was opened read-only")
            try:
                for article_id in ids:
                    writer.delete_documents_by_term("id", article_id)
                writer.commit()
            except (OSError, ValueError) as exc:
                writer.rollback()
                raise StoreUnavailable(f"index write failed: {exc}") from exc
            index.reload()
        return ids

    def _stored_crawls(self, searcher: tantivy.Searcher, ids: list[str]) -> dict[str, int]:
        """The crawl time (ns) stored for each of these ids that the index holds.

        An id the term dictionary lacks is skipped after one lookup (~3 µs; a deleted
        document still counts there, so none is missed); for the others, one search reads
        the crawl time from the fast field (~20 µs), no stored document is loaded. A
        term-set query over the batch cost more (~30 µs an id) even when none matched.
        """
        stored: dict[str, int] = {}
        for article_id in ids:
            if not searcher.doc_freq("id", article_id):
                continue
            found = searcher.search(
                Query.term_query(self._schema, "id", article_id),
                limit=1,
                order_by_field="crawled_at",
            ).hits
            if found:
                stored[article_id] = int(found[0][0])
        return stored

    @property
    def _schema(self) -> tantivy.Schema:
        assert self._index is not None
        return self._index.schema

    # -- reads ---------------------------------------------------------------

    def get(self, article_id: str) -> Article | None:
        searcher = self._searcher()
        found = searcher.search(Query.term_query(self._schema, "id", article_id), limit=1)
        if not found.hits:
            return None
        return from_document(searcher.doc(found.hits[0][1]))

    def get_many(self, ids: Sequence[str]) -> dict[str, Article]:
        return self._articles(self._searcher(), ids)

    def _articles(self, searcher: tantivy.Searcher, ids: Sequence[str]) -> dict[str, Article]:
        """One search for the ids the term dictionary has (a new id costs one lookup)."""
        held = [i for i in dict.fromkeys(ids) if searcher.doc_freq("id", i)]
        if not held:
            return {}
        found = searcher.search(Query.term_set_query(self._schema, "id", held), limit=len(held))
        articles = (self._article(searcher.doc(address)) for _, address in found.hits)
        return {article.id: article for article in articles}

    def count(self) -> int:
        return int(self._searcher().num_docs)

    def search(self, query: SearchQuery) -> SearchPage:
        """One page of hits in the query's order.

        By date the order is (sort_date desc, id asc) and a cursor seeks past the last
        hit with a range filter (see `_date_page`), so deep pages cost no more than the
        first. By relevance tantivy cannot seek: a cursor's page is found by offset, with
        no cap on depth but a cost that grows with it (O(offset)); within one index
        version the order of equal scores is fixed, so pages neither skip nor repeat.
        A collapsed page is found by offset too (see `_collapsed`). Every hit carries its
        group sizes (see `_sizes`).
        """
        searcher = self._searcher()
        # An index made before the groups holds no enriched article (the enrichment's
        # lookups need the new fields), so each article is its own group: collapsing,
        # the API's default, changes nothing there and must not fail.
        collapsing = (
            query.collapse != Collapse.NONE
            and GROUP_FIELDS[query.collapse] not in self._layout.missing
        )
        text_query = self._builder.build(query.query) if query.query is not None else None
        if query.query is not None and text_query is None:
            return SearchPage(
                total=0, hits=[], groups=0 if query.collapse != Collapse.NONE else None
            )
        full = self._full_query(query, text_query)
        # Facets asked: their pass (no scoring) counts too, so the ranking pass need not
        # count, and without counting tantivy can skip blocks that cannot reach the top.
        # Both passes match the whole query (for a phrase, each checks positions on every
        # candidate), so the facet pass runs on another thread while this one ranks.
        faceted = self._start_facets(searcher, full, query.facets)
        scored: list[tuple[float, Any, float]]
        docs: dict[tuple[int, int], tantivy.Document] = {}
        groups: int | None = None
        if collapsing:
            scored, total, groups = self._collapsed(
                searcher, full, query.sort, GROUP_FIELDS[query.collapse], query, docs
            )
        elif (
            query.offset
            and query.after is None
            and query.offset
            >= (
                total := faceted.result()[1] if faceted is not None else self._count(searcher, full)
            )
        ):
            scored = []  # past the end: a forged cursor's offset costs no top-offset heap
        elif query.sort == Sort.DATE:
            found, total = self._date_page(searcher, full, query.after, query.offset, query.size)
            scored = [(0.0, address, key) for key, address in found]
        else:
            result = searcher.search(
                full, limit=max(query.size, 1), offset=query.offset, count=faceted is None
            )
            total = faceted.result()[1] if faceted is not None else result.count or 0
            scored = [(float(score), address, float(score)) for score, address in result.hits]
            scored = scored[: query.size]
        facets = faceted.result()[0] if faceted is not None else {}
        snippets = (
            tantivy.SnippetGenerator.create(searcher, text_query, self._schema, "text")
            if text_query is not None
            else None
        )
        if snippets is not None:
            snippets.set_max_num_chars(SNIPPET_CHARS)
        loaded = []
        for score, address, _ in scored:
            doc = docs.get(_address(address)) or searcher.doc(address)
            snippet = snippets.snippet_from_doc(doc) if snippets is not None else None
            loaded.append((from_document(doc), snippet, score))
        sizes = self._sizes(searcher, [article for article, _, _ in loaded])
        hits = [
            _hit(
                article,
                (
                    _highlight(snippet.fragment(), snippet.highlighted())
                    if snippet is not None and snippet.fragment()
                    else _lead(article.text)
                ),
                score,
                sizes.get(article.id, (1, 1, 1)),
            )
            for article, snippet, score in loaded
        ]
        return SearchPage(
            total=total,
            hits=hits,
            facets=facets,
            last_sort=(scored[-1][2], hits[-1].id) if hits else None,
            groups=total if groups is None and query.collapse != Collapse.NONE else groups,
        )

    def _collapsed(
        self,
        searcher: tantivy.Searcher,
        full: Query,
        sort: Sort,
        field: str,
        page: SearchQuery,
        docs: dict[tuple[int, int], tantivy.Document],
    ) -> tuple[list[tuple[float, Any, float]], int, int]:
        """The page's groups, each as its best hit under the sort (score or date key,
        address, sort value), the matches and the groups matching.

        tantivy cannot collapse, so the hits are read in order, more of them each time,
        until offset + size groups are seen or the matches run out; each hit read costs a
        document load (kept in `docs` for the page), so deep collapsed pages cost more.
        Paging is by offset: a cursor's `after` cannot say how many groups came before.
        At most MAX_COLLAPSE_READ hits are read (Elasticsearch's from + size window is
        10,000 too), so a deep or forged offset costs a bounded read, then no hits.
        """
        want = page.offset + page.size
        read = min(max(COLLAPSE_READ, 2 * want), MAX_COLLAPSE_READ)
        while True:
            if sort == Sort.DATE:
                window, total = self._date_window(searcher, full, 0, read)
                ordered = [(0.0, address, key) for key, address in window]
            else:
                result = searcher.search(full, limit=read)
                total = result.count or 0
                ordered = [(float(score), a, float(score)) for score, a in result.hits]
            best: dict[str, tuple[float, Any, float]] = {}
            for entry in ordered:
                key = _address(entry[1])
                if key not in docs:
                    docs[key] = searcher.doc(entry[1])
                best.setdefault(str(docs[key].get_first(field)), entry)
            exhausted = len(ordered) >= total
            if len(best) >= want or exhausted or read >= MAX_COLLAPSE_READ:
                break
            read = min(read * 4, MAX_COLLAPSE_READ)
        groups = len(best) if exhausted else self._count_groups(searcher, full, field, total)
        return list(best.values())[page.offset : want], total, groups

    @staticmethod
    def _count_groups(searcher: tantivy.Searcher, full: Query, field: str, total: int) -> int:
        if total <= EXACT_GROUPS:
            result = searcher.aggregate(
                full, {"groups": {"terms": {"field": field, "size": total}}}
            )
            return len(result["groups"]["buckets"])
        return round(searcher.cardinality(full, field))

    def _sizes(self, searcher: tantivy.Searcher, articles: Sequence[Article]) -> dict[str, Sizes]:
        """Each article's near-duplicate group and story sizes and its story's sources, over
        the whole index; {} on an index made before the groups (its hits keep the sizes of
        articles without copies).

        A key in one document is a group of one: the term dictionary says so in a lookup
        (it still counts deleted documents, so 1 is exact, more is a maybe). Only the
        other groups are counted, by at most two aggregations for the page.
        """
        if not articles or {"duplicate_group", "story_id"} & self._layout.missing:
            return {}

        def shared(field: str, keys: set[str]) -> list[str]:
            return sorted(key for key in keys if searcher.doc_freq(field, key) > 1)

        groups = shared("duplicate_group", {a.duplicate_group or a.id for a in articles})
        stories = shared("story_id", {a.story_id or a.id for a in articles})
        copies: dict[str, int] = {}
        if groups:
            result = searcher.aggregate(
                any_term(self._schema, "duplicate_group", groups),
                {"groups": {"terms": {"field": "duplicate_group", "size": len(groups)}}},
            )
            copies = {b["key"]: int(b["doc_count"]) for b in result["groups"]["buckets"]}
        story: dict[str, tuple[int, int]] = {}
        if stories:
            result = searcher.aggregate(
                any_term(self._schema, "story_id", stories),
                {
                    "stories": {
                        "terms": {"field": "story_id", "size": len(stories)},
                        "aggs": {"sources": {"terms": {"field": "source", "size": MAX_SOURCES}}},
                    }
                },
            )
            story = {
                b["key"]: (int(b["doc_count"]), len(b["sources"]["buckets"]))
                for b in result["stories"]["buckets"]
            }
        return {
            article.id: (
                copies.get(article.duplicate_group or article.id, 1),
                *story.get(article.story_id or article.id, (1, 1)),
            )
            for article in articles
        }

    def _full_query(self, query: SearchQuery, text_query: Query | None) -> Query:
        return full_query(self._schema, query, text_query, self._layout)

    def _date_page(
        self,
        searcher: tantivy.Searcher,
        full: Query,
        after: tuple[Any, ...] | None,
        offset: int,
        size: int,
    ) -> tuple[list[tuple[int, Any]], int]:
        """(sort_date in ns, address) of a page in (sort_date desc, id asc) order, and the
        number of matches of `full`.

        With a cursor the page seeks: the rest of the cursor's second by id, then the
        newest matches older than it; no offset is counted, so depth costs nothing.
        """
        if after is None:
            return self._date_window(searcher, full, offset, size)
        total = searcher.search(full, limit=1).count or 0
        if size <= 0:
            return [], total
        moment, last_id = int(after[0]), str(after[1])
        page = [(moment, a) for a in self._ties(searcher, full, moment, last_id)][:size]
        older = self._with(full, self._date_range(None, moment, include_upper=False))
        return page + self._date_window(searcher, older, 0, size - len(page))[0], total

    def _date_window(
        self, searcher: tantivy.Searcher, full: Query, offset: int, size: int
    ) -> tuple[list[tuple[int, Any]], int]:
        """Hits offset..offset+size in (sort_date desc, id asc) order, and the matches.

        tantivy sorts by one field, and documents of the same second come back in index
        order, not by id. The dates of the window are right whatever the tie order. One
        hit more on each side tells whether the second at an edge of the window goes on
        beyond it; only such a cut second is re-read whole by id (from the fast field, no
        document loaded) and the window's share of it taken, so a window with no tie
        across its edges costs one search. A second with very many articles costs a read
        of all of their ids.
        """
        lead = 1 if offset else 0
        result = searcher.search(
            full,
            limit=max(size, 0) + 1 + lead,
            offset=offset - lead,
            order_by_field="sort_date",
            order=Order.Desc,
        )
        total = result.count or 0
        keys = [int(key) for key, _ in result.hits]
        found = result.hits[lead : lead + max(size, 0)]
        if not found:
            return [], total
        top_cut = lead and len(keys) > lead and keys[0] == keys[lead]
        end = lead + len(found)
        bottom_cut = len(keys) > end and keys[end] == keys[end - 1]
        groups: dict[int, list[Any]] = {}
        for key, address in found:
            groups.setdefault(int(key), []).append(address)
        first, last = int(found[0][0]), int(found[-1][0])
        window: list[tuple[int, Any]] = []
        for moment, addresses in groups.items():
            if (moment == first and top_cut) or (moment == last and bottom_cut):
                newer = self._with(full, self._date_range(moment, None, include_lower=False))
                above = (searcher.search(newer, limit=1).count or 0) if offset else 0
                before = max(0, offset - above)
                addresses = self._ties(searcher, full, moment, None)[
                    before : before + len(addresses)
                ]
            elif len(addresses) > 1:
                addresses = sorted(addresses, key=lambda a: self._id_of(searcher, a))
            window.extend((moment, address) for address in addresses)
        return window, total

    def _ties(
        self, searcher: tantivy.Searcher, full: Query, moment: int, last_id: str | None
    ) -> list[Any]:
        """Addresses of the matches of one sort_date second, by id, after `last_id`."""
        same = self._with(full, self._date_range(moment, moment))
        result = searcher.search(same, limit=TIES_GUESS, order_by_field="id", order=Order.Asc)
        if (result.count or 0) > TIES_GUESS:  # a crowded second: read it all
            result = searcher.search(same, limit=result.count, order_by_field="id", order=Order.Asc)
        return [address for key, address in result.hits if last_id is None or str(key) > last_id]

    def _date_range(
        self,
        lower: int | None,
        upper: int | None,
        *,
        include_lower: bool = True,
        include_upper: bool = True,
    ) -> Query:
        return Query.range_query(
            self._schema,
            "sort_date",
            tantivy.FieldType.Date,
            from_nanos(lower) if lower is not None else None,
            from_nanos(upper) if upper is not None else None,
            include_lower=include_lower,
            include_upper=include_upper,
        )

    @staticmethod
    def _with(full: Query, condition: Query) -> Query:
        return Query.boolean_query(
            [(Occur.Must, full), (Occur.Must, Query.const_score_query(condition, 0.0))]
        )

    @staticmethod
    def _id_of(searcher: tantivy.Searcher, address: Any) -> str:
        return str(searcher.doc(address).get_first("id"))

    def scan(self, query: SearchQuery, page_size: int = 500) -> Iterator[Article]:
        """Every matching article, newest first, a page at a time over one index version.

        It seeks page to page like a date cursor, so memory holds one page, not the
        result set.
        """
        searcher = self._searcher()
        text_query = self._builder.build(query.query) if query.query is not None else None
        if query.query is not None and text_query is None:
            return
        full = self._full_query(query, text_query)
        after: tuple[Any, ...] | None = None
        while True:
            page, _ = self._date_page(searcher, full, after, 0, page_size)
            for moment, address in page:
                article = from_document(searcher.doc(address))
                after = (moment, article.id)
                yield article
            if len(page) < page_size:
                return

    def timeline(self, query: SearchQuery, interval: Interval) -> list[TimeBucket]:
        """Matches per hour, day or week of publication (UTC; weeks from Monday)."""
        searcher = self._searcher()
        text_query = self._builder.build(query.query) if query.query is not None else None
        if query.query is not None and text_query is None:
            return []
        histogram: dict[str, Any] = {"field": "published_at", "min_doc_count": 1}
        histogram |= INTERVALS[interval]
        result = searcher.aggregate(
            self._full_query(query, text_query), {"timeline": {"date_histogram": histogram}}
        )
        return [
            TimeBucket(start=datetime.fromtimestamp(bucket["key"] / 1000, UTC), count=count)
            for bucket in result["timeline"]["buckets"]
            if (count := int(bucket["doc_count"]))
        ]

    def source_stats(self) -> list[SourceStats]:
        """Articles, newest publication and newest crawl per source in the index."""
        result = self._searcher().aggregate(Query.all_query(), source_stats_aggregation())
        return read_source_stats(result, nanos_value)

    def stats(self) -> StoreStats:
        """The documents, and the bytes of every file in the index directory."""
        documents = self.count()
        size = 0
        for file in self.path.rglob("*"):
            with contextlib.suppress(FileNotFoundError):  # a merge may remove it meanwhile
                if file.is_file():
                    size += file.stat().st_size
        return StoreStats(documents=documents, size_bytes=size)

    def crawled_since(self, since: datetime) -> dict[str, int]:
        searcher = self._searcher()
        recent = Query.range_query(
            self._schema, "crawled_at", tantivy.FieldType.Date, naive_utc(since), None
        )
        return read_source_counts(searcher.aggregate(recent, source_counts_aggregation()))

    def _like(self, searcher: tantivy.Searcher, article: Article) -> Query:
        """The article's SIMILAR_TERMS most telling words (term frequency x idf), any of them.

        tantivy's own more_like_this panics on an index with deleted documents (a term's
        document frequency counts deleted ones, its document count does not: tantivy
        PR #2964), and every revision or re-pointed copy deletes one; so the same choice is
        made here with the frequency capped at the count.
        """
        counts = Counter(self._builder.tokens(f"{article.title}\n{article.text}"))
        documents = max(searcher.num_docs, 1)
        scored = []
        for term, frequency in counts.items():
            held = min(searcher.doc_freq("text", term), documents)
            idf = math.log(1 + (documents - held + 0.5) / (held + 0.5))
            scored.append((frequency * idf, term))
        chosen = [term for _, term in heapq.nlargest(SIMILAR_TERMS, scored)]
        return Query.boolean_query(
            [(Occur.Should, Query.term_query(self._schema, "text", term)) for term in chosen]
        )

    def similar(self, article_id: str, size: int = 10) -> list[Hit]:
        """More like this: the most telling words of the article's text, as a query."""
        searcher = self._searcher()
        found = searcher.search(Query.term_query(self._schema, "id", article_id), limit=1)
        if not found.hits:
            return []
        like = self._like(searcher, from_document(searcher.doc(found.hits[0][1])))
        found = []
        for score, address in searcher.search(like, limit=size + 1).hits:
            article = from_document(searcher.doc(address))
            if article.id != article_id:
                found.append((article, float(score)))
        sizes = self._sizes(searcher, [article for article, _ in found[:size]])
        return [
            _hit(article, _lead(article.text), score, sizes.get(article.id, (1, 1, 1)))
            for article, score in found[:size]
        ]

    # -- enrichment ------------------------------------------------------------

    def near_duplicates(self, bands: Sequence[str], size: int = 100) -> list[Article]:
        """Articles sharing LSH band keys with the caller's, those sharing most first (each
        shared key adds to the score)."""
        if not bands:
            return []
        searcher = self._searcher()
        require(self._layout, "lsh_bands", "find near-duplicates")
        shared = Query.boolean_query(
            [(Occur.Should, Query.term_query(self._schema, "lsh_bands", b)) for b in set(bands)]
        )
        found = searcher.search(shared, limit=size, count=False)
        return [self._article(searcher.doc(address)) for _, address in found.hits]

    def articles_matching(self, queries: Sequence[SearchQuery]) -> list[list[Article]]:
        """Each query's page as `search` finds it uncollapsed, over one index version; no
        snippet (a third of a story-candidate search), group sizes, facets or count.

        The story searches of one batch find many of the same recent articles (half of
        them on a busy day): each is loaded from the index once a call."""
        if any(query.collapse != Collapse.NONE for query in queries):
            raise ValueError("articles_matching does not collapse; use search")
        searcher = self._searcher()
        loaded: dict[tuple[int, int], Article] = {}
        pages = []
        for query in queries:
            text_query = self._words_query(query.query) if query.query is not None else None
            if query.query is not None and text_query is None:
                pages.append([])
                continue
            full = self._full_query(query, text_query)
            if query.sort == Sort.DATE:
                found, _ = self._date_page(searcher, full, query.after, query.offset, query.size)
                addresses = [address for _, address in found]
            else:
                result = searcher.search(
                    full, limit=max(query.size, 1), offset=query.offset, count=False
                )
                addresses = [address for _, address in result.hits[: query.size]]
            page = []
            for address in addresses:
                key = _address(address)
                if key not in loaded:
                    loaded[key] = self._article(searcher.doc(address))
                page.append(loaded[key])
            pages.append(page)
        return pages

    def _words_query(self, node: Node) -> Query | None:
        """The node's query as the builder makes it; an Or of plain words from the queries
        of its words kept by WORD_QUERIES_CACHED."""
        words = [
            child.text
            for child in (node.children if isinstance(node, Or) else ())
            if isinstance(child, Term) and child.field is None
        ]
        if not isinstance(node, Or) or len(words) != len(node.children):
            return self._builder.build(node)
        clauses = []
        for word in words:
            with self._words_lock:
                known = word in self._word_queries
                query = self._word_queries.get(word)
                if known:
                    self._word_queries.move_to_end(word)
            if not known:
                query = self._builder.build(Term(word))
                with self._words_lock:
                    self._word_queries[word] = query
                    if len(self._word_queries) > WORD_QUERIES_CACHED:
                        self._word_queries.popitem(last=False)
            if query is not None:
                clauses.append((Occur.Should, query))
        return Query.boolean_query(clauses) if clauses else None

    def _article(self, doc: tantivy.Document) -> Article:
        """The stored article, parsed once while it is among the last PARSED_CACHED read
        here: the same stored bytes and text are the same article (Article is frozen)."""
        key = (doc.get_first("doc"), str(doc.get_first("text")))
        with self._parsed_lock:
            article = self._parsed.get(key)
            if article is not None:
                self._parsed.move_to_end(key)
                return article
        article = from_document(doc)
        with self._parsed_lock:
            self._parsed[key] = article
            if len(self._parsed) > PARSED_CACHED:
                self._parsed.popitem(last=False)
        return article

    def story(self, story_id: str, size: int = 500) -> list[Hit]:
        searcher = self._searcher()
        require(self._layout, "story_id", "gather stories")
        found = searcher.search(
            Query.term_query(self._schema, "story_id", story_id),
            limit=size,
            order_by_field="sort_date",
            order=Order.Asc,
        )
        articles = sorted(
            (self._article(searcher.doc(address)) for _, address in found.hits),
            key=lambda article: (_seen(article), article.id),
        )
        sizes = self._sizes(searcher, articles)
        return [
            _hit(article, _lead(article.text), 0.0, sizes.get(article.id, (1, 1, 1)))
            for article in articles
        ]

    def stories(self, query: SearchQuery, size: int = 10) -> tuple[int, list[StorySummary]]:
        """Ranked as search collapses by story (the same reading of hits in order), then
        summarised whole in one aggregation over the page's stories."""
        searcher = self._searcher()
        require(self._layout, "story_id", "gather stories")
        text_query = self._builder.build(query.query) if query.query is not None else None
        if query.query is not None and text_query is None:
            return 0, []
        full = self._full_query(query, text_query)
        docs: dict[tuple[int, int], tantivy.Document] = {}
        page = query.model_copy(update={"offset": 0, "size": size})
        best, _, count = self._collapsed(searcher, full, query.sort, "story_id", page, docs)
        keys = [str(docs[_address(address)].get_first("story_id")) for _, address, _ in best]
        return count, self._summaries(searcher, keys)

    def _summaries(self, searcher: tantivy.Searcher, keys: list[str]) -> list[StorySummary]:
        if not keys:
            return []
        ends = {
            end: {
                "top_hits": {"size": 1, "sort": [{"sort_date": order}], "docvalue_fields": ["id"]}
            }
            for end, order in (("first", "asc"), ("last", "desc"))
        }
        result = searcher.aggregate(
            any_term(self._schema, "story_id", keys),
            {
                "stories": {
                    "terms": {"field": "story_id", "size": len(keys)},
                    "aggs": ends
                    | {
                        "sources": {
                            "terms": {"field": "source", "size": MAX_SOURCES},
                            "aggs": {"since": {"min": {"field": "sort_date"}}},
                        },
                        "people": {"terms": {"field": "people", "size": MAX_FACET_VALUES}},
                    },
                }
            },
        )
        buckets = {bucket["key"]: bucket for bucket in result["stories"]["buckets"]}

        def end_id(bucket: dict[str, Any], end: str) -> str:
            return str(bucket[end]["hits"][0]["docvalue_fields"]["id"][0])

        articles = self._articles(
            searcher, [end_id(b, end) for b in buckets.values() for end in ("first", "last")]
        )
        summaries = []
        for key in keys:
            bucket = buckets[key]
            first, last = articles[end_id(bucket, "first")], articles[end_id(bucket, "last")]
            sources = sorted(
                bucket["sources"]["buckets"], key=lambda s: (s["since"]["value"], s["key"])
            )
            names = sorted(bucket["people"]["buckets"], key=lambda p: (-p["doc_count"], p["key"]))
            summaries.append(
                StorySummary(
                    id=key,
                    title=first.title,
                    size=int(bucket["doc_count"]),
                    sources=[source["key"] for source in sources],
                    first_publisher=first.source,
                    first_url=first.url,
                    first_seen=_seen(first),
                    last_seen=_seen(last),
                    people=[name["key"] for name in names[:MAX_STORY_PEOPLE]],
                )
            )
        return summaries

    @staticmethod
    def _count(searcher: tantivy.Searcher, query: Query) -> int:
        return searcher.search(query, limit=1).count or 0

    def _start_facets(
        self, searcher: tantivy.Searcher, query: Query, wanted: Sequence[str]
    ) -> Future[tuple[dict[str, list[FacetCount]], int]] | None:
        """Counts per source, author, language and publication day (UTC), as asked, and
        the number of matches, being computed (on the facet thread when there is one); None
        when no facet was asked.

        tantivy releases the GIL while it aggregates, so with a second core the caller's
        ranking pass runs meanwhile: on a faceted phrase search at 1M articles each pass
        checked positions on every candidate (~32 ms each), and the search took their sum.
        """
        aggregations = {
            name: {"terms": {"field": field, "size": MAX_FACET_VALUES}}
            for name, field in FACET_FIELDS.items()
            if field not in self._layout.missing  # an old index has no such facet
        } | {
            "published_day": {
                "date_histogram": {
                    "field": "published_at",
                    "fixed_interval": "1d",
                    "min_doc_count": 1,
                }
            }
        }
        chosen = {name: aggregations[name] for name in wanted if name in aggregations}
        if not chosen:
            return None
        # sort_date is on every document: its value count is the number of matches.
        chosen[MATCHES] = {"value_count": {"field": "sort_date"}}
        if self._overlap:
            return _facet_pool().submit(self._facets, searcher, query, chosen)
        done: Future[tuple[dict[str, list[FacetCount]], int]] = Future()
        done.set_result(self._facets(searcher, query, chosen))
        return done

    @staticmethod
    def _facets(
        searcher: tantivy.Searcher, query: Query, chosen: dict[str, Any]
    ) -> tuple[dict[str, list[FacetCount]], int]:
        result = searcher.aggregate(query, chosen)
        total = int(result.pop(MATCHES)["value"])
        # Built unvalidated: a day facet over two years is ~730 buckets, and validating
        # each was a tenth of a faceted search's CPU; the values are the index's own.
        return {
            name: [
                FacetCount.model_construct(
                    value=str(bucket.get("key_as_string", bucket["key"]))[:10]
                    if name == "published_day"
                    else str(bucket["key"]),
                    count=int(bucket["doc_count"]),
                )
                for bucket in aggregation["buckets"]
            ]
            for name, aggregation in result.items()
        }, total
