"""Response models of the API, separate from the stored Article."""

from __future__ import annotations

from datetime import datetime

from newsagg.core.search import FacetCount, Hit
from pydantic import BaseModel, Field


class SearchResponse(BaseModel):
    query: str | None = Field(description="The query as given.")
    total: int = Field(description="How many articles match.")
    offset: int
    size: int
    hits: list[Hit]
    facets: dict[str, list[FacetCount]] = Field(
        description="Article counts per value, for the matches: `source`."
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


class Health(BaseModel):
    status: str
    store: bool | None = None
    articles: int | None = None
