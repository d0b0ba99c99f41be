"""Response models of the API, separate from the stored Article."""

from __future__ import annotations

from datetime import datetime

from fastapi import Response
from newsagg.core.alerts.spikes import SpikeReport
from newsagg.core.article import DateSource, Quality
from newsagg.core.search import Collapse, FacetCount, Hit, Interval, StorySummary, TimeBucket
from pydantic import BaseModel, Field


def json_response(body: BaseModel) -> Response:
    """The model as JSON, as FastAPI would write it, without FastAPI validating the built
    model again against the route's response_model first (the busiest routes' largest
    cost after the store; the route keeps response_model for its documented schema)."""
    return Response(body.model_dump_json(), media_type="application/json")


class SearchResponse(BaseModel):
    query: str | None = Field(description="The query as given.")
    total: int = Field(description="How many articles match.")
    collapse: Collapse = Field(description="What one hit stands for.")
    groups: int | None = Field(
        description="How many near-duplicate groups or stories match when collapsing (the "
        "hits to page through); null when not collapsing."
    )
    offset: int = Field(description="Position of this page's first hit in the results.")
    size: int
    hits: list[Hit]
    facets: dict[str, list[FacetCount]] = Field(
        description="Article counts per value, for the matches, for each facet asked for."
    )
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` for the next page; null on the last page."
    )


class ArticleResponse(BaseModel):
    id: str
    url: str
    canonical_url: str
    source: str
    title: str
    text: str
    summary: str | None
    authors: list[str]
    published_at: datetime | None
    updated_at: datetime | None
    crawled_at: datetime
    language: str | None
    section: str | None
    tags: list[str]
    image_url: str | None
    word_count: int
    date_source: DateSource | None = Field(
        description="Where published_at came from; null when there is no publication date "
        "(never the crawl date in its place)."
    )
    date_confidence: float | None = Field(description="How far to trust published_at, 0 to 1.")
    listed_at: datetime | None = Field(
        description="The date the feed or sitemap listed the page with."
    )
    date_notes: list[str] = Field(
        description="Dates refused and why, and listings that disagree with the page."
    )
    quality: Quality = Field(
        description="`low` when the extracted text looks like something other than the "
        "article (a paywall, a teaser, mostly links or boilerplate, too short)."
    )
    quality_score: float = Field(description="0 to 1, higher is better.")
    quality_reasons: list[str] = Field(description="Why the score is what it is.")
    revision: int = Field(
        description="How many distinct texts this article has had; 1 until its page changes."
    )
    story_id: str | None = Field(
        description="The story it belongs to (GET /v1/stories/{id}); null until enriched."
    )
    duplicate_of: str | None = Field(
        description="The original's id when this article is a near-identical copy of it."
    )
    people: list[str] = Field(description="The people it is about, full names.")


class RevisionInfo(BaseModel):
    revision: int
    title: str
    content_hash: str
    crawled_at: datetime = Field(description="When this version was fetched.")
    word_count: int


class LastChange(BaseModel):
    from_revision: int
    to_revision: int
    title_changed: bool
    previous_title: str | None = Field(description="The headline before, if it changed.")
    title: str = Field(description="The headline now.")
    diff: str = Field(
        description="Unified diff (one line per paragraph) from the previous text to the "
        "current one; cut at a size limit, see `diff_truncated`."
    )
    diff_truncated: bool = Field(description="The diff was longer than the limit and is cut.")


class RevisionsResponse(BaseModel):
    id: str
    revision: int = Field(description="The current revision.")
    updated_at: datetime | None = Field(
        description="When the text last changed (as the page says, else when it was seen)."
    )
    revisions: list[RevisionInfo] = Field(
        description="The earlier versions (the last 50), oldest first, then the current one. "
        "The store keeps the previous text (see last_change); every version's text stays a "
        "message on the bus for as long as the bus keeps it."
    )
    last_change: LastChange | None = Field(
        description="The latest change, with the text diff; null while revision is 1."
    )


class SimilarResponse(BaseModel):
    article_id: str = Field(description="The article the others are like.")
    hits: list[Hit] = Field(description="Most alike first; never the article itself.")


class StoriesResponse(BaseModel):
    query: str | None = Field(description="The query as given.")
    total: int = Field(description="How many stories have an article that matches.")
    stories: list[StorySummary] = Field(
        description="Best first (by relevance: the best-matching article's score; by date: "
        "the newest article). A story's figures count all its articles, not only the matches."
    )


class StoryResponse(StorySummary):
    articles: list[Hit] = Field(
        description="Its articles in time order (published, else crawled; oldest first): the "
        "first is the first publisher's. At most 500; `size` counts them all."
    )


class TimelineResponse(BaseModel):
    query: str | None
    interval: Interval
    total: int = Field(description="How many articles match.")
    undated: int = Field(description="Matches without a publication date (in no bucket).")
    buckets: list[TimeBucket] = Field(
        description="Matches per interval of publication (UTC, weeks from Monday), from the "
        "first to the last, empty intervals included with count 0."
    )
    spike: SpikeReport | None = Field(
        default=None,
        description="With spike=true: the query's last 24 hours against the 14 days before, "
        "as GET /v1/saved-searches/{id}/spikes reports it (`spike`, `last_24h`, "
        "`baseline_daily_mean`, `threshold`, `rule`, the hours); null without it.",
    )


class SourceInfo(BaseModel):
    name: str
    configured: bool = Field(description="Listed in the sources file (NEWSAGG_SOURCES).")
    articles: int = Field(description="Articles of this source in the index.")
    newest_published_at: datetime | None = Field(
        description="Publication date of its newest indexed article."
    )
    last_crawled_at: datetime | None = Field(
        description="When its most recently crawled article was fetched: the last crawl that "
        "brought something into the index."
    )


class SourcesResponse(BaseModel):
    sources: list[SourceInfo]


class BusHealth(BaseModel):
    """The bus behind the index, reported for operators: searches do not need it."""

    ok: bool = Field(description="The bus the indexer reads answers.")
    error: str | None = Field(None, description="Why not, when it does not.")
    corrupted: bool = Field(
        False, description="The bus is damaged: `error` names the file and the repair command."
    )


class Health(BaseModel):
    status: str
    store: bool | None = Field(None, description="The search store answers.")
    bus: BusHealth | None = Field(
        None, description="The bus, reported alone: its outage does not fail readiness."
    )
    articles: int | None = Field(None, description="Articles in the store.")
