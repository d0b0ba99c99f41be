"""What a search asks and what it gets back, independent of any engine."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from newsagg.core.query import Node
from pydantic import BaseModel, ConfigDict, Field

MAX_PAGE_SIZE = 100


class Sort(StrEnum):
    RELEVANCE = "relevance"
    DATE = "date"


class SearchQuery(BaseModel):
    """A parsed query plus filters, sort and paging."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    query: Node | None = None
    sources: tuple[str, ...] = ()
    published_from: datetime | None = None
    published_to: datetime | None = None
    sort: Sort = Sort.RELEVANCE
    size: int = Field(default=10, ge=0, le=MAX_PAGE_SIZE)
    offset: int = Field(default=0, ge=0)


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
