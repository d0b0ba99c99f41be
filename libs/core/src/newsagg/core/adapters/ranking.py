"""What both SearchStores share so that they match and rank alike.

The analyser is tantivy's (used natively by the embedded store, and in Python by the
Elasticsearch adapter, whose Maven Central build has no stemmers: docs/elasticsearch.md).
"""

from __future__ import annotations

import tantivy
from tantivy import Filter, TextAnalyzerBuilder, Tokenizer

TITLE_BOOST = 2.5
PHRASE_BOOST = 1.5
PROXIMITY_SLOP = 3
SNIPPET_CHARS = 240
MAX_FACET_VALUES = 50
FACET_FIELDS = {"source": "source", "author": "authors", "language": "language"}
"""Facet name -> field; `published_day` (a per-day histogram) comes on top."""


def news_analyzer() -> tantivy.TextAnalyzer:
    """English analysis: split, drop huge tokens, lowercase, fold accents, stem."""
    return (
        TextAnalyzerBuilder(Tokenizer.simple())
        .filter(Filter.remove_long(40))
        .filter(Filter.lowercase())
        .filter(Filter.ascii_fold())
        .filter(Filter.stemmer("english"))
        .build()
    )
