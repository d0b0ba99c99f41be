"""What both SearchStores share so that they rank, facet and count alike.

Engine-neutral: the boosts and sizes each store's query builder applies, and the
per-source statistics as Elasticsearch-style aggregation JSON, which tantivy's
`Searcher.aggregate` speaks too. The text analysis both share is text_analyzer's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from newsagg.core.search import SourceStats

TITLE_BOOST = 2.5
PHRASE_BOOST = 1.5
PROXIMITY_SLOP = 3
SNIPPET_CHARS = 240
MAX_FACET_VALUES = 50
FACET_FIELDS = {
    "source": "source",
    "author": "authors",
    "language": "language",
    "person": "people",
}
"""Facet name -> field; `published_day` (a per-day histogram) comes on top."""
MAX_SOURCES = 10_000
MAX_STORY_PEOPLE = 10
"""Names a story summary lists: most articles first, ties by name."""


def source_stats_aggregation() -> dict[str, Any]:
    """Articles, newest publication and newest crawl per source."""
    return {
        "sources": {
            "terms": {"field": "source", "size": MAX_SOURCES},
            "aggs": {
                "published": {"max": {"field": "published_at"}},
                "crawled": {"max": {"field": "crawled_at"}},
            },
        }
    }


def read_source_stats(
    result: Mapping[str, Any], to_datetime: Callable[[Any], datetime | None]
) -> list[SourceStats]:
    """Read source_stats_aggregation's answer; each engine says how its dates come back."""
    return [
        SourceStats(
            name=bucket["key"],
            articles=bucket["doc_count"],
            newest_published_at=to_datetime(bucket["published"]["value"]),
            last_crawled_at=to_datetime(bucket["crawled"]["value"]),
        )
        for bucket in result["sources"]["buckets"]
    ]


def source_counts_aggregation() -> dict[str, Any]:
    """Matches per source (under a query that picks the articles)."""
    return {"sources": {"terms": {"field": "source", "size": MAX_SOURCES}}}


def read_source_counts(result: Mapping[str, Any]) -> dict[str, int]:
    return {bucket["key"]: int(bucket["doc_count"]) for bucket in result["sources"]["buckets"]}
