"""What a search asks and what it gets back, independent of any engine."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from newsagg.core.query import Node
from pydantic import BaseModel, ConfigDict, Field

MAX_PAGE_SIZE = 100
FACETS = ("source", "author", "language", "published_day")
CURSOR_VERSION = 1


class Sort(StrEnum):
    RELEVANCE = "relevance"
    DATE = "date"


class Interval(StrEnum):
    """Timeline buckets, in UTC; weeks start on Monday."""

    HOUR = "hour"
    DAY = "day"
    WEEK = "week"

    @property
    def step(self) -> timedelta:
        return {"hour": timedelta(hours=1), "day": timedelta(days=1)}.get(
            self.value, timedelta(weeks=1)
        )


class SearchQuery(BaseModel):
    """A parsed query plus filters, sort and paging.

    `offset` is where the page starts in the sort order. `after`, when set, holds the
    sort values of the hit just before the page (from a cursor): a store that can seek
    (search_after) starts there instead of counting `offset` hits, so paging has no cap.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    query: Node | None = None
    sources: tuple[str, ...] = ()
    exclude_sources: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    published_from: datetime | None = None
    published_to: datetime | None = None
    sort: Sort = Sort.RELEVANCE
    size: int = Field(default=10, ge=0, le=MAX_PAGE_SIZE)
    offset: int = Field(default=0, ge=0)
    after: tuple[Any, ...] | None = None
    facets: tuple[str, ...] = FACETS


class Hit(BaseModel):
    id: str
    url: str
    title: str
    source: str
    published_at: datetime | None
    authors: list[str]
    language: str | None
    snippet: str = Field(
        description="Text around the matches; matched terms are wrapped in <mark>."
    )
    score: float


class FacetCount(BaseModel):
    value: str
    count: int


class SearchPage(BaseModel):
    total: int
    hits: list[Hit]
    facets: dict[str, list[FacetCount]] = Field(default_factory=dict)
    last_sort: tuple[Any, ...] | None = None
    """The store's sort values of the last hit: what a cursor to the next page holds."""


class TimeBucket(BaseModel):
    start: datetime = Field(description="Start of the bucket (UTC).")
    count: int


class SourceStats(BaseModel):
    name: str
    articles: int
    newest_published_at: datetime | None
    last_crawled_at: datetime | None = Field(
        description="Newest crawled_at among the source's indexed articles."
    )


def fill_gaps(buckets: list[TimeBucket], interval: Interval) -> list[TimeBucket]:
    """Every bucket from the first to the last, with zeros where nothing was published."""
    if not buckets:
        return []
    counts = {bucket.start: bucket.count for bucket in buckets}
    start, end = min(counts), max(counts)
    filled = []
    while start <= end:
        filled.append(TimeBucket(start=start, count=counts.get(start, 0)))
        start += interval.step
    return filled


# -- cursors -------------------------------------------------------------------


class InvalidCursor(ValueError):
    """A cursor that is not one of ours, or belongs to another query."""


def fingerprint(query: SearchQuery) -> str:
    """What a cursor is bound to: the question, not the page."""
    question = query.model_copy(update={"size": 0, "offset": 0, "after": None, "facets": ()})
    return hashlib.sha256(repr(question).encode()).hexdigest()[:16]


def encode_cursor(query: SearchQuery, page: SearchPage) -> str | None:
    """An opaque cursor to the page after this one, or None at the end of the results."""
    position = query.offset + len(page.hits)
    if not page.hits or page.last_sort is None or position >= page.total:
        return None
    state = {
        "v": CURSOR_VERSION,
        "sort": query.sort.value,
        "after": list(page.last_sort),
        "n": position,
        "q": fingerprint(query),
    }
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()


def apply_cursor(query: SearchQuery, cursor: str) -> SearchQuery:
    """The query for the page a cursor points to; InvalidCursor if it is not for this query."""
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        after, position = tuple(state["after"]), int(state["n"])
        version, sort, bound = state["v"], state["sort"], state["q"]
    except (ValueError, TypeError, KeyError, OverflowError, binascii.Error) as exc:
        raise InvalidCursor("malformed cursor: pass next_cursor exactly as returned") from exc
    if not _sort_values(after):
        raise InvalidCursor("malformed cursor: pass next_cursor exactly as returned")
    if version != CURSOR_VERSION:
        raise InvalidCursor(f"cursor version {version!r} is not supported: search again")
    if sort != query.sort.value or bound != fingerprint(query) or position < 0:
        raise InvalidCursor("this cursor belongs to another query, sort or filters")
    return query.model_copy(update={"after": after, "offset": position})


def _sort_values(after: tuple[Any, ...]) -> bool:
    """Both stores sort on (a number: score or date, the article id)."""
    return (
        len(after) == 2
        and isinstance(after[0], int | float)
        and not isinstance(after[0], bool)
        and math.isfinite(after[0])
        and abs(after[0]) < 2**63
        and isinstance(after[1], str)
    )
