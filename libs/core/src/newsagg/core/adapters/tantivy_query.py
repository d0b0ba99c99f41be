"""Our query AST as tantivy Query objects: the same ranking as the Elasticsearch store.

Mirrors es_query. Words are analysed by the index's own analyzer and matched with
term and phrase queries; no user string ever reaches tantivy's query parser. Every
word must match, title matches weigh TITLE_BOOST, and a query of plain words gets a
sloppy-phrase should-clause.
"""

from __future__ import annotations

import tantivy
from newsagg.core.adapters.shared_search import PHRASE_BOOST, PROXIMITY_SLOP, TITLE_BOOST
from newsagg.core.adapters.tantivy_schema import REBUILD, Layout, naive_utc
from newsagg.core.ports import IndexOutdated
from newsagg.core.query import And, Node, Not, Or, Phrase, Term, plain_words
from newsagg.core.search import SearchQuery
from tantivy import Occur, Query


class QueryBuilder:
    """Translates our AST into tantivy Query objects."""

    def __init__(self, schema: tantivy.Schema, analyzer: tantivy.TextAnalyzer) -> None:
        self.schema = schema
        self.analyzer = analyzer

    def tokens(self, text: str) -> list[str]:
        return self.analyzer.analyze(text)

    def match(self, field: str, tokens: list[str]) -> Query:
        if len(tokens) == 1:
            return Query.term_query(self.schema, field, tokens[0])
        return Query.phrase_query(self.schema, field, tokens)

    def words(self, tokens: list[str], field: str | None) -> Query | None:
        if not tokens:
            return None
        if field == "title":
            return self.match("title", tokens)
        if field == "author":
            return self.match("author_text", tokens)
        return Query.boolean_query(
            [
                (Occur.Should, Query.boost_query(self.match("title", tokens), TITLE_BOOST)),
                (Occur.Should, self.match("text", tokens)),
            ]
        )

    def build(self, node: Node) -> Query | None:
        """A Query for the node, or None when nothing in it is searchable."""
        if isinstance(node, Term | Phrase):
            if node.field == "source":
                value = node.text if isinstance(node, Term) else " ".join(node.words)
                return Query.term_query(self.schema, "source", value.lower())
            text = node.text if isinstance(node, Term) else " ".join(node.words)
            return self.words(self.tokens(text), node.field)
        if isinstance(node, Not):
            inner = self.build(node.child)
            if inner is None:
                return None
            return Query.boolean_query([(Occur.Must, Query.all_query()), (Occur.MustNot, inner)])
        if isinstance(node, Or):
            clauses = [(Occur.Should, q) for q in map(self.build, node.children) if q is not None]
            return Query.boolean_query(clauses) if clauses else None
        return self.conjunction(node)

    def conjunction(self, node: And) -> Query | None:
        clauses: list[tuple[Occur, Query]] = []
        for child in node.children:
            target = child.child if isinstance(child, Not) else child
            query = self.build(target)
            if query is not None:
                clauses.append((Occur.MustNot if isinstance(child, Not) else Occur.Must, query))
        if not clauses:
            return None
        if all(occur == Occur.MustNot for occur, _ in clauses):
            clauses.append((Occur.Must, Query.all_query()))
        proximity = self.proximity(node)
        if proximity is not None:
            clauses.append((Occur.Should, proximity))
        return Query.boolean_query(clauses)

    def proximity(self, node: And) -> Query | None:
        """Reward documents where the plain words of the query stand close together."""
        tokens = [token for word in plain_words(node) for token in self.tokens(word)]
        if len(tokens) < 2:
            return None
        return Query.boolean_query(
            [
                (
                    Occur.Should,
                    Query.boost_query(
                        Query.phrase_query(self.schema, "title", tokens, slop=PROXIMITY_SLOP),
                        TITLE_BOOST * PHRASE_BOOST,
                    ),
                ),
                (
                    Occur.Should,
                    Query.boost_query(
                        Query.phrase_query(self.schema, "text", tokens, slop=PROXIMITY_SLOP),
                        PHRASE_BOOST,
                    ),
                ),
            ]
        )


def require(layout: Layout, field: str, what: str) -> None:
    """IndexOutdated when the index was made before `field`, which `what` needs."""
    if field in layout.missing:
        raise IndexOutdated(
            f"this index was made before the {field!r} field existed, so it cannot {what}",
            REBUILD,
        )


def any_term(schema: tantivy.Schema, field: str, values: list[str]) -> Query:
    """Documents holding any of a few values of a field with a term per article or person.

    A term-set query walks the field's whole term dictionary (~1.5 ms at 3,000 articles,
    growing with the index); a term query per value is a lookup each.
    """
    return Query.boolean_query(
        [(Occur.Should, Query.term_query(schema, field, value)) for value in values]
    )


def filters(schema: tantivy.Schema, query: SearchQuery, layout: Layout) -> list[Query]:
    """The query's filters; IndexOutdated for one on a field the layout lacks."""
    found: list[Query] = []
    for field, values in (
        ("date_source", list(query.date_sources)),
        ("quality", [query.quality] if query.quality else []),
    ):
        if values:
            require(layout, field, "filter on it")
            found.append(Query.term_set_query(schema, field, values))
    for field, values in (("people", list(query.people)), ("story_id", list(query.story_ids))):
        if values:
            require(layout, field, "filter on it")
            found.append(any_term(schema, field, values))
    if query.sources:
        found.append(Query.term_set_query(schema, "source", list(query.sources)))
    if query.authors:
        found.append(Query.term_set_query(schema, "authors", list(query.authors)))
    if query.languages:
        found.append(Query.term_set_query(schema, "language", list(query.languages)))
    if query.published_from or query.published_to:
        found.append(
            Query.range_query(
                schema,
                "published_at",
                tantivy.FieldType.Date,
                naive_utc(query.published_from) if query.published_from else None,
                naive_utc(query.published_to) if query.published_to else None,
            )
        )
    return found


def full_query(
    schema: tantivy.Schema, query: SearchQuery, text_query: Query | None, layout: Layout
) -> Query:
    """The text query (every document when None) with the query's filters, which add no
    score: what the store searches and the alerts matcher runs on a batch's own index."""
    clauses: list[tuple[Occur, Query]] = [(Occur.Must, text_query or Query.all_query())]
    clauses.extend(
        (Occur.Must, Query.const_score_query(f, 0.0)) for f in filters(schema, query, layout)
    )
    if query.exclude_sources:
        excluded = list(query.exclude_sources)
        clauses.append((Occur.MustNot, Query.term_set_query(schema, "source", excluded)))
    return Query.boolean_query(clauses)
