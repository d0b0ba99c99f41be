"""GET /v1/search: our query grammar in, ranked and highlighted hits out."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError
from newsagg.api.deps import StoreDep
from newsagg.api.models import SearchResponse
from newsagg.core.query import parse_query
from newsagg.core.search import MAX_PAGE_SIZE, SearchQuery, Sort
from starlette.concurrency import run_in_threadpool

router = APIRouter(prefix="/v1", tags=["search"])
MAX_OFFSET = 10_000


def parse_bound(value: str | None, name: str, *, end: bool) -> datetime | None:
    """ISO date or datetime; a bare date as `to` means the whole of that day (UTC)."""
    if value is None or not value.strip():
        return None
    try:
        if len(value.strip()) == 10:
            day = date.fromisoformat(value.strip())
            start = datetime.combine(day, time.min, UTC)
            return start + timedelta(days=1) - timedelta(microseconds=1) if end else start
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", name),
                    "msg": f"not an ISO date or datetime: {value!r}",
                    "type": "value_error",
                }
            ]
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@router.get("/search", response_model=SearchResponse, summary="Search articles")
async def search_articles(
    store: StoreDep,
    q: Annotated[
        str | None,
        Query(
            description='Words (all must match), "exact phrases", -excluded words, OR between '
            "alternatives, parentheses, and title:/author:/source: fields.",
            examples=["Milind Soman cycling"],
        ),
    ] = None,
    source: Annotated[list[str], Query(description="Only these sources (repeatable).")] = [],  # noqa: B006
    from_: Annotated[
        str | None,
        Query(
            alias="from",
            description="Published on or after (ISO date or datetime).",
            examples=["2026-09-01"],
        ),
    ] = None,
    to: Annotated[
        str | None,
        Query(
            description="Published on or before (ISO date or datetime).", examples=["2026-11-30"]
        ),
    ] = None,
    sort: Annotated[
        Sort, Query(description="relevance (default) or date (newest first).")
    ] = Sort.RELEVANCE,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Hits per page.")] = 10,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Hits to skip.")] = 0,
) -> SearchResponse:
    parsed = parse_query(q) if q is not None and q.strip() else None
    request = SearchQuery(
        query=parsed,
        sources=tuple(source),
        published_from=parse_bound(from_, "from", end=False),
        published_to=parse_bound(to, "to", end=True),
        sort=sort,
        size=size,
        offset=offset,
    )
    page = await run_in_threadpool(store.search, request)
    return SearchResponse(
        query=q, total=page.total, offset=offset, size=size, hits=page.hits, facets=page.facets
    )
