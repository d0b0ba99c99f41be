"""What a search asks and what it gets back, independent of any engine."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from newsagg.core.article import ARTICLE_ID_PATTERN, DateSource, Quality
from newsagg.core.query import Node
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

MAX_PAGE_SIZE = 100
FACETS = ("source", "author", "language", "published_day", "person")
CURSOR_VERSION = 1
MAX_CURSOR_CHARS = 512  # a real one has about 150
MAX_CURSOR_POSITION = 2**53 - 1  # hits before the page; exact as a JSON number anywhere
DATE_KEY_LIMIT = 9_223_372_036_854_775_000  # the largest date key (ns) tantivy can read
MAX_SCORE = 3.4028234663852886e38  # the largest 32-bit float
NO_DATE = "none"  # the date_sources value for articles without a publication date


class Sort(StrEnum):
    RELEVANCE = "relevance"
    DATE = "date"


class Collapse(StrEnum):
    """What one hit stands for: an article, a near-duplicate group, or a story.

    A collapsed page shows each group's best hit under the sort; a document without the
    group field is its own group.
    """

    NONE = "none"
    DUPLICATES = "duplicates"
    STORIES = "stories"


class Interval(StrEnum):
    """Timeline buckets, in UTC; weeks start on Monday."""

    HOUR = "hour"
    DAY = "day"
    WEEK = "week"

    @property
    def step(self) -> timedelta:
        return _STEPS[self.value]


_STEPS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}


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
    date_sources: tuple[str, ...] = ()
    """Values of DateSource, or NO_DATE for articles without a publication date."""
    quality: str | None = None
    """A Quality value: "low" finds the extractions marked as doubtful."""
    people: tuple[str, ...] = ()
    """Normalised full names; an article naming any of them matches."""
    story_ids: tuple[str, ...] = ()
    """Articles of any of these stories."""
    collapse: Collapse = Collapse.NONE
    """One hit per group; paging a collapsed query counts `offset` (`after` is ignored)."""
    sort: Sort = Sort.RELEVANCE
    size: int = Field(default=10, ge=0, le=MAX_PAGE_SIZE)
    offset: int = Field(default=0, ge=0)
    after: tuple[Any, ...] | None = None
    facets: tuple[str, ...] = FACETS

    @model_validator(mode="after")
    def _known_provenance_and_quality(self) -> SearchQuery:
        """A filter value no article can carry is a mistake, not an empty result."""
        known = {source.value for source in DateSource} | {NO_DATE}
        unknown = sorted(set(self.date_sources) - known)
        if unknown:
            raise ValueError(f"unknown date source {unknown}: use {sorted(known)}")
        if self.quality is not None and self.quality not in {q.value for q in Quality}:
            raise ValueError(f"unknown quality {self.quality!r}: use 'ok' or 'low'")
        return self


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
    date_source: str | None = None
    date_confidence: float | None = None
    quality: str = "ok"
    revision: int = 1
    updated_at: datetime | None = None
    previous_title: str | None = Field(
        default=None, description="The headline before the last change, if it changed."
    )
    story_id: str | None = None
    duplicate_group: str | None = None
    duplicate_of: str | None = Field(
        default=None, description="The original's id when this article is a copy of it."
    )
    people: list[str] = Field(default_factory=list)
    duplicates: int = Field(
        default=1, description="Members of its near-duplicate group in the index, itself included."
    )
    story_size: int = Field(default=1, description="Articles of its story in the index.")
    story_sources: int = Field(default=1, description="Distinct sources of its story in the index.")


class FacetCount(BaseModel):
    value: str
    count: int


class SearchPage(BaseModel):
    total: int
    hits: list[Hit]
    facets: dict[str, list[FacetCount]] = Field(default_factory=dict)
    last_sort: tuple[Any, ...] | None = None
    """The store's sort values of the last hit: what a cursor to the next page holds."""
    groups: int | None = None
    """Groups matching when the query collapses (`total` still counts articles)."""


class StorySummary(BaseModel):
    """A story as a desk sees it: who covered it, who was first, and when."""

    id: str
    title: str = Field(description="The headline of its first-published article.")
    size: int
    sources: list[str] = Field(description="Distinct sources, by first appearance.")
    first_publisher: str = Field(description="Source of its earliest published article.")
    first_url: str
    first_seen: datetime = Field(description="Earliest published_at, else crawled_at.")
    last_seen: datetime
    people: list[str] = Field(default_factory=list, description="Its most named people.")


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
    start, end, step = min(counts), max(counts), interval.step
    filled = []
    while start <= end:
        filled.append(TimeBucket(start=start, count=counts.get(start, 0)))
        start += step
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
    end = page.groups if page.groups is not None else page.total  # a collapsed page's hits
    if not page.hits or page.last_sort is None or position >= end:
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
    state = read_cursor(cursor)
    if state.v != CURSOR_VERSION:
        raise InvalidCursor(f"cursor version {state.v!r} is not supported: search again")
    if state.sort != query.sort or state.q != fingerprint(query):
        raise InvalidCursor("this cursor belongs to another query, sort or filters")
    return query.model_copy(update={"after": state.after, "offset": state.n})


def read_cursor(cursor: str) -> CursorState:
    """Decode and validate a cursor; InvalidCursor says what is wrong with a bad one.

    The size is checked before decoding and pydantic's JSON parser bounds nesting, so no
    input can make decoding deep or slow; the typed model bounds every value.
    """
    if len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidCursor(
            f"malformed cursor: {len(cursor)} characters (at most {MAX_CURSOR_CHARS}); "
            "pass next_cursor exactly as returned"
        )
    try:
        raw = base64.b64decode(cursor.encode("ascii"), altchars=b"-_", validate=True)
    except (ValueError, binascii.Error) as exc:
        raise InvalidCursor(
            "malformed cursor: not base64url; pass next_cursor as returned"
        ) from exc
    try:
        return CursorState.model_validate_json(raw)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"]) or "cursor"
        raise InvalidCursor(
            f"malformed cursor ({where}: {error['msg']}); pass next_cursor exactly as returned"
        ) from exc


class CursorState(BaseModel):
    """What a cursor holds, typed and bounded: a forged one is refused, never sent to a store.

    `after` is the last hit's sort values in both stores: (score, id) by relevance, (date
    key, id) by date. Scores are never negative and are 32-bit floats in tantivy and
    Elasticsearch alike. A date key is nanoseconds in tantivy and milliseconds in
    Elasticsearch; both are 64-bit integers, and tantivy turns one into a date only within
    +-DATE_KEY_LIMIT ns (1677-09-21 to 2262-04-11), which bounds it for both.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    v: int = Field(ge=0, le=1000)
    sort: Sort
    after: tuple[int | float, Annotated[str, Field(pattern=ARTICLE_ID_PATTERN)]]
    n: int = Field(ge=0, le=MAX_CURSOR_POSITION)
    q: str = Field(pattern=r"^[0-9a-f]{16}$")

    @model_validator(mode="after")
    def _sort_key_fits_sort(self) -> CursorState:
        key = self.after[0]
        if self.sort == Sort.DATE:
            if not isinstance(key, int) or abs(key) > DATE_KEY_LIMIT:
                raise ValueError(f"a date position is an integer within +-{DATE_KEY_LIMIT}")
        elif not (math.isfinite(key) and 0 <= key <= MAX_SCORE):
            raise ValueError(f"a relevance position is a score from 0 to {MAX_SCORE:g}")
        return self
