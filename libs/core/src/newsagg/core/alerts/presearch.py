"""The presearcher: which saved searches could find a batch's articles, before an engine runs them.

Running 10,000 saved queries on every batch costs 10,000 queries even when the batch says
nothing any of them asks for. Luwak (now Lucene's Monitor; Elasticsearch's percolator picks
its candidates the same way) answers with a presearcher: from each query, the terms of which
at least one must be in a document it matches, indexed term -> queries; a batch runs only
the queries whose terms it holds. This is that, engine-independent, over our query AST
(newsagg.core.query):

- a word or phrase needs its terms, analysed by the store's own analyzer (so "Café" and
  "cafe", "cycling" and "cycles" are one term, as the store indexes them);
- AND needs what each of its children needs; the index keeps the rarest child's terms;
- OR needs what one of its children needs: the union;
- NOT needs nothing; a search without query text needs nothing from the text;
- the filters that name values (sources, authors, languages, people, stories) need one of
  their values on the article; dates, date sources and quality are left to the engine.

It must never drop a true match (the engine verifies, it cannot add back): every key is a
superset of what the store's query asks. Words are looked for in the title, text and
authors together whatever the field; a `source:` value is compared lowercased (the stores
compare it lowercased or case-insensitively) and one that is not ASCII needs nothing; a part
of a query the stores drop (a word the analyzer makes no term of) is dropped here too, and a
query the stores find nothing for is never a candidate. tests/unit/test_presearch.py holds
it to candidates ⊇ the store's matches on generated queries.

Each candidate search comes with the batch's articles that hold its keys (bit masks per
key, so a search needing "soman" AND "cycling" is a candidate only for an article holding
both), which the engine's verification may be restricted to.

The index of searches is kept across batches and rebuilt when the set of searches changes.
Which child of an AND anchors a search (its "rarest" terms) is chosen from the document
frequencies of the articles seen so far (before any, from word length); the index is rebuilt
as that sample doubles, up to LEARN_ARTICLES articles.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from newsagg.core.alerts.model import SavedSearch
from newsagg.core.article import Article
from newsagg.core.query import And, Node, Not, Or, Phrase, QuerySyntaxError, Term
from newsagg.core.search import SearchQuery

log = logging.getLogger("newsagg.alerts")
Analyze = Callable[[str], Sequence[str]]
LEARN_ARTICLES = 20_000
"""Articles whose keys are counted to rank terms by rarity; enough to tell common words from
rare ones, and a bound on the counter's memory."""
MATCHER_QUERY = {"size": 0, "facets": ()}
"""A matcher's SearchQuery asks for no page and no facets (only which articles match)."""


@dataclass(frozen=True, slots=True)
class Every:
    """All of these must hold; Every(()) holds for any article."""

    needs: tuple[Need, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    """One of these must hold; AnyOf(()) holds for none."""

    needs: tuple[Need, ...]


Need = str | Every | AnyOf
"""A key (a term, or `kind:value` for a filter value) the article must hold, or a combination."""
ANYTHING = Every(())
NOTHING = AnyOf(())


def _every(needs: list[Need]) -> Need:
    kept = [need for need in needs if need != ANYTHING]
    if NOTHING in kept:
        return NOTHING
    return kept[0] if len(kept) == 1 else Every(tuple(kept))


def _any(needs: list[Need]) -> Need:
    if ANYTHING in needs:
        return ANYTHING
    kept = [need for need in needs if need != NOTHING]
    return kept[0] if len(kept) == 1 else AnyOf(tuple(kept))


def source_key(source: str) -> str:
    return f"source:{source.lower()}"


def query_need(node: Node, analyze: Analyze) -> Need | None:
    """What an article must hold for the stores' translation of `node` to find it; None
    where that translation is empty (no query: the stores skip such a part, or find nothing
    when the whole query is empty)."""
    if isinstance(node, Term | Phrase):
        text = node.text if isinstance(node, Term) else " ".join(node.words)
        if node.field == "source":
            return source_key(text) if text.isascii() else ANYTHING
        terms = list(dict.fromkeys(analyze(text)))
        if not terms:
            return None
        return _every(list(terms))
    if isinstance(node, Not):
        return None if query_need(node.child, analyze) is None else ANYTHING
    if isinstance(node, Or):
        needs = [
            need for child in node.children if (need := query_need(child, analyze)) is not None
        ]
        return _any(needs) if needs else None
    assert isinstance(node, And)
    kept = False
    needs = []
    for child in node.children:
        need = query_need(child.child if isinstance(child, Not) else child, analyze)
        if need is not None:
            kept = True
            if not isinstance(child, Not):
                needs.append(need)
    return _every(needs) if kept else None


def filter_need(query: SearchQuery) -> Need:
    """What the query's value filters need: each one of its values on the article."""
    named = (
        [source_key(source) for source in query.sources],
        [f"author:{author}" for author in query.authors],
        [f"lang:{language}" for language in query.languages],
        [f"person:{person}" for person in query.people],
        [f"story:{story}" for story in query.story_ids],
    )
    return _every([_any(list(values)) for values in named if values])


def article_keys(article: Article, analyze: Analyze) -> set[str]:
    """Every key an article holds: its title's, text's and authors' terms and its values."""
    keys = set(analyze(article.title))
    keys.update(analyze(article.text))
    for author in article.authors:
        keys.update(analyze(author))
        keys.add(f"author:{author}")
    keys.add(source_key(article.source))
    if article.language:
        keys.add(f"lang:{article.language}")
    keys.update(f"person:{person}" for person in article.people)
    keys.add(f"story:{article.story_id or article.id}")
    return keys


def anchor(need: Need, frequency: Callable[[str], float]) -> tuple[float, frozenset[str]] | None:
    """Keys of which every article meeting `need` holds one, with their summed frequency
    (the cheapest such set); None when no key is needed (any article may match)."""
    if isinstance(need, str):
        return frequency(need), frozenset((need,))
    if isinstance(need, Every):
        options = [found for child in need.needs if (found := anchor(child, frequency))]
        return min(options, key=lambda option: option[0]) if options else None
    cost, keys = 0.0, frozenset[str]()
    for child in need.needs:
        found = anchor(child, frequency)
        if found is None:
            return None
        cost, keys = cost + found[0], keys | found[1]
    return cost, keys


def articles_meeting(need: Need, masks: dict[str, int], everyone: int) -> int:
    """The bit mask of the batch's articles that meet `need`, from each key's mask."""
    if isinstance(need, str):
        return masks.get(need, 0)
    if isinstance(need, Every):
        found = everyone
        for child in need.needs:
            found &= articles_meeting(child, masks, everyone)
            if not found:
                break
        return found
    found = 0
    for child in need.needs:
        found |= articles_meeting(child, masks, everyone)
        if found == everyone:
            break
    return found


@dataclass(frozen=True, slots=True)
class Compiled:
    """A saved search as matching sees it: its SearchQuery (parsed once) and its need."""

    search: SavedSearch
    position: int
    query: SearchQuery | None
    """None when its text no longer parses: it finds nothing (the store would refuse it)."""
    need: Need


@dataclass(frozen=True, slots=True)
class Candidate:
    """A search to verify, and the batch's articles that hold its keys (bit i: article i)."""

    search: SavedSearch
    query: SearchQuery
    mask: int

    @property
    def articles(self) -> list[int]:
        """The positions in the batch of the articles that hold the search's keys."""
        found, mask = [], self.mask
        while mask:
            lowest = mask & -mask
            found.append(lowest.bit_length() - 1)
            mask ^= lowest
        return found


def compile_search(search: SavedSearch, position: int, analyze: Analyze) -> Compiled:
    try:
        query = search.search_query(**MATCHER_QUERY)
    except QuerySyntaxError as exc:
        log.warning(
            "saved search %s: its query no longer parses (%s): it matches nothing", search.id, exc
        )
        return Compiled(search, position, None, NOTHING)
    text = ANYTHING if query.query is None else query_need(query.query, analyze)
    need = NOTHING if text is None else _every([text, filter_need(query)])
    return Compiled(search, position, query, need)


class Presearcher:
    """Candidate searches for a batch, from an index of the searches kept across batches."""

    def __init__(self, analyze: Analyze) -> None:
        self.analyze = analyze
        self._searches: list[SavedSearch] = []
        self._compiled: dict[str, Compiled] = {}
        self._index: dict[str, list[str]] = {}
        self._always: list[str] = []
        self._frequencies: Counter[str] = Counter()
        self._seen = 0
        self._seen_at_build = 0

    def candidates(
        self, searches: Sequence[SavedSearch], articles: Sequence[Article]
    ) -> list[Candidate]:
        """The searches that may find some of these articles, in the order given."""
        masks: dict[str, int] = {}
        for position, article in enumerate(articles):
            bit = 1 << position
            keys = article_keys(article, self.analyze)
            for key in keys:
                masks[key] = masks.get(key, 0) | bit
            if self._seen < LEARN_ARTICLES:
                self._frequencies.update(key for key in keys if not key.startswith("story:"))
                self._seen += 1
        self._sync(searches)
        if not articles:
            return []
        everyone = (1 << len(articles)) - 1
        chosen = set(self._always)
        if len(masks) < len(self._index):
            for key in masks:
                chosen.update(self._index.get(key, ()))
        else:
            for key, ids in self._index.items():
                if key in masks:
                    chosen.update(ids)
        found = []
        for compiled in sorted(map(self._compiled.__getitem__, chosen), key=_position):
            assert compiled.query is not None
            meeting = articles_meeting(compiled.need, masks, everyone)
            if meeting:
                found.append(Candidate(compiled.search, compiled.query, meeting))
        return found

    def _sync(self, searches: Sequence[SavedSearch]) -> None:
        """Compile the searches new or changed since the last batch; rebuild the index when
        the set changed or the frequency sample doubled."""
        current = list(searches)
        if current == self._searches and not self._sample_grew():
            return  # the same searches (the same objects, or equal ones) as last time
        self._searches = current
        compiled = self._compiled
        changed = len(searches) != len(compiled)
        fresh: dict[str, Compiled] = {}
        for position, search in enumerate(searches):
            known = compiled.get(search.id)
            if known is None or (
                known.search is not search
                and (known.search.q != search.q or known.search.filters != search.filters)
            ):
                known = compile_search(search, position, self.analyze)
                changed = True
            elif known.position != position or known.search is not search:
                known = Compiled(search, position, known.query, known.need)
            fresh[search.id] = known
        self._compiled = fresh
        if changed or len(fresh) != len(compiled) or self._sample_grew():
            self._build()

    def _sample_grew(self) -> bool:
        return self._seen >= 2 * self._seen_at_build and self._seen > self._seen_at_build

    def _build(self) -> None:
        seen = max(self._seen, 1)
        counts = self._frequencies

        def frequency(key: str) -> float:
            # Unseen words: longer ones are rarer; a seen key's share of the articles first.
            return counts.get(key, 0) / seen + 1 / (len(key) + 1) / seen

        index: dict[str, list[str]] = {}
        always = []
        for search_id, compiled in self._compiled.items():
            if compiled.query is None or compiled.need == NOTHING:
                continue
            found = anchor(compiled.need, frequency)
            if found is None:
                always.append(search_id)
                continue
            for key in found[1]:
                index.setdefault(key, []).append(search_id)
        self._index = index
        self._always = always
        self._seen_at_build = self._seen


def _position(compiled: Compiled) -> int:
    return compiled.position
