"""Our query AST as Elasticsearch query DSL: the same ranking as the embedded store.

Words are analysed in Python by the index's own analyser (text_analyzer) and matched
with `term` and `match_phrase` on the `*_terms` fields; no user string ever reaches
`query_string`. Like TantivyStore: every word must match, title matches weigh TITLE_BOOST, and a
query of plain words gets a sloppy-phrase should-clause. On top, a quoted phrase gets a
bonus where it stands verbatim (unstemmed `title`/`text`), so exact names rank first.
"""

from __future__ import annotations

from typing import Any

from newsagg.core.adapters.es_schema import STORY_KEY
from newsagg.core.adapters.shared_search import PHRASE_BOOST, PROXIMITY_SLOP, TITLE_BOOST
from newsagg.core.adapters.text_analyzer import TextAnalyzer
from newsagg.core.article import Quality
from newsagg.core.query import And, Node, Not, Or, Phrase, Term, plain_words, positive_terms
from newsagg.core.search import NO_DATE, SearchQuery

Clause = dict[str, Any]
MATCH_ALL: Clause = {"match_all": {}}
MIN_HIGHLIGHT_PREFIX = 4
"""A stem this long also highlights the words it stems from (`cycl` marks *cycles*)."""


def _match(field: str, tokens: list[str], boost: float = 1.0, slop: int = 0) -> Clause:
    if len(tokens) == 1:
        return {"term": {field: {"value": tokens[0], "boost": boost}}}
    return {"match_phrase": {field: {"query": " ".join(tokens), "slop": slop, "boost": boost}}}


def _should(*clauses: Clause) -> Clause:
    return {"bool": {"should": list(clauses)}}


class QueryTranslator:
    """Translates our AST into a bool query; None when nothing in it is searchable."""

    def __init__(self, analyzer: TextAnalyzer) -> None:
        self.analyzer = analyzer

    def tokens(self, text: str) -> list[str]:
        return self.analyzer.analyze(text)

    def build(self, node: Node) -> Clause | None:
        if isinstance(node, Term | Phrase):
            text = node.text if isinstance(node, Term) else " ".join(node.words)
            if node.field == "source":
                return {"term": {"source": {"value": text, "case_insensitive": True}}}
            return self.words(self.tokens(text), node.field, node)
        if isinstance(node, Not):
            inner = self.build(node.child)
            return None if inner is None else {"bool": {"must": MATCH_ALL, "must_not": inner}}
        if isinstance(node, Or):
            clauses = [q for q in map(self.build, node.children) if q is not None]
            return _should(*clauses) if clauses else None
        return self.conjunction(node)

    def words(self, tokens: list[str], field: str | None, node: Term | Phrase) -> Clause | None:
        if not tokens:
            return None
        if field == "title":
            return _match("title_terms", tokens)
        if field == "author":
            return _match("author_terms", tokens)
        stemmed = _should(_match("title_terms", tokens, TITLE_BOOST), _match("text_terms", tokens))
        if not isinstance(node, Phrase):
            return stemmed
        verbatim = " ".join(node.words)
        return {
            "bool": {
                "must": stemmed,
                "should": [
                    {"match_phrase": {"title": {"query": verbatim, "boost": TITLE_BOOST}}},
                    {"match_phrase": {"text": {"query": verbatim}}},
                ],
            }
        }

    def conjunction(self, node: And) -> Clause | None:
        must: list[Clause] = []
        must_not: list[Clause] = []
        for child in node.children:
            target = child.child if isinstance(child, Not) else child
            query = self.build(target)
            if query is not None:
                (must_not if isinstance(child, Not) else must).append(query)
        if not must and not must_not:
            return None
        if not must:
            must.append(MATCH_ALL)
        clause: Clause = {"bool": {"must": must, "must_not": must_not}}
        proximity = self.proximity(node)
        if proximity is not None:
            clause["bool"]["should"] = [proximity]
        return clause

    def proximity(self, node: And) -> Clause | None:
        """Reward documents where the plain words of the query stand close together."""
        tokens = [token for word in plain_words(node) for token in self.tokens(word)]
        if len(tokens) < 2:
            return None
        return _should(
            _match("title_terms", tokens, TITLE_BOOST * PHRASE_BOOST, PROXIMITY_SLOP),
            _match("text_terms", tokens, PHRASE_BOOST, PROXIMITY_SLOP),
        )

    def highlight_query(self, node: Node) -> Clause:
        """What to mark in the unstemmed `text`: the words as typed, and what their stems
        stand for; excluded words and field-only terms are never marked."""
        clauses: list[Clause] = []
        for leaf in positive_terms(node):
            if leaf.field is not None:
                continue
            words = [leaf.text] if isinstance(leaf, Term) else list(leaf.words)
            clauses.append({"match_phrase": {"text": " ".join(words)}})
            if isinstance(leaf, Term):
                clauses.extend(
                    {"prefix": {"text": stem}}
                    for stem in self.tokens(leaf.text)
                    if len(stem) >= MIN_HIGHLIGHT_PREFIX
                )
        return _should(*clauses) if clauses else {"match_none": {}}


def filters(query: SearchQuery) -> list[Clause]:
    found: list[Clause] = []
    if query.sources:
        found.append({"terms": {"source": list(query.sources)}})
    if query.exclude_sources:
        found.append({"bool": {"must_not": {"terms": {"source": list(query.exclude_sources)}}}})
    if query.authors:
        found.append({"terms": {"authors": list(query.authors)}})
    if query.languages:
        found.append({"terms": {"language": list(query.languages)}})
    if query.people:
        found.append({"terms": {"people": list(query.people)}})
    if query.story_ids:
        # The key, not story_id: an article not yet enriched is the story of its own id.
        found.append({"terms": {STORY_KEY: list(query.story_ids)}})
    if query.published_from or query.published_to:
        bounds: dict[str, str] = {}
        if query.published_from:
            bounds["gte"] = query.published_from.isoformat()
        if query.published_to:
            bounds["lte"] = query.published_to.isoformat()
        found.append({"range": {"published_at": bounds}})
    if query.date_sources:
        either: list[Clause] = []
        named = [source for source in query.date_sources if source != NO_DATE]
        if named:
            either.append({"terms": {"date_source": named}})
        if NO_DATE in query.date_sources:
            either.append({"bool": {"must_not": {"exists": {"field": "published_at"}}}})
        found.append({"bool": {"should": either, "minimum_should_match": 1}})
    if query.quality == Quality.OK:
        # A document written before the flag existed has none: it reads back as "ok".
        unflagged = {"bool": {"must_not": {"exists": {"field": "quality"}}}}
        ok = {"term": {"quality": Quality.OK.value}}
        found.append({"bool": {"should": [ok, unflagged], "minimum_should_match": 1}})
    elif query.quality:
        found.append({"term": {"quality": query.quality}})
    return found
