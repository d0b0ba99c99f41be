"""GET /v1/search: our query grammar in, ranked and highlighted hits out, page by cursor."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Response
from newsagg.api.deps import StoreDep
from newsagg.api.metrics import SEARCH_SECONDS
from newsagg.api.models import SearchResponse, json_response
from newsagg.api.routes.filters import FiltersDep, invalid
from newsagg.core.search import (
    MAX_PAGE_SIZE,
    Collapse,
    Sort,
    apply_cursor,
    encode_cursor,
)
from starlette.concurrency import run_in_threadpool

router = APIRouter(prefix="/v1", tags=["search"])
MAX_OFFSET = 10_000
FACET_NAMES = {
    "source": "source",
    "author": "author",
    "language": "language",
    "day": "published_day",
    "person": "person",
}
"""API facet name -> store facet name."""


def facet_names(value: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
    unknown = [n for n in names if n not in FACET_NAMES]
    if unknown:
        raise invalid("facets", f"unknown facet {unknown[0]!r}: use {', '.join(FACET_NAMES)}")
    return names


@router.get(
    "/search",
    response_model=SearchResponse,
    summary="Search articles",
    responses={400: {"description": "The query or the cursor cannot be read."}},
)
async def search_articles(
    store: StoreDep,
    filters: FiltersDep,
    sort: Annotated[
        Sort, Query(description="relevance (default) or date (newest first).")
    ] = Sort.RELEVANCE,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Hits per page.")] = 10,
    offset: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_OFFSET,
            description="Hits to skip, for shallow pages; use `cursor` to page deeper.",
        ),
    ] = 0,
    cursor: Annotated[
        str | None,
        Query(
            description="`next_cursor` of the previous page, as returned (opaque), with the "
            "same query, filters and sort. Pages this way never skip or repeat a hit and have "
            "no depth limit. Overrides `offset`."
        ),
    ] = None,
    facets: Annotated[
        str,
        Query(
            description="Which counts to compute, comma-separated: source, author, language, "
            "day (per publication day, UTC), person. Empty for none. Counts are of articles, "
            "collapsed or not.",
            examples=["source,author,day,person"],
        ),
    ] = "source",
    collapse: Annotated[
        Collapse,
        Query(
            description="What one hit stands for: `duplicates` (default) shows one article "
            "per group of near-duplicate copies (an agency text republished by several "
            "outlets), `stories` one per story, `none` every article. A collapsed hit is the "
            "group's best under the sort; its `duplicates` and `story_size` say how many it "
            "stands for."
        ),
    ] = Collapse.DUPLICATES,
) -> Response:
    wanted = facet_names(facets)
    request = filters.query.model_copy(
        update={
            "sort": sort,
            "size": size,
            "offset": offset,
            "facets": tuple(FACET_NAMES[name] for name in wanted),
            "collapse": collapse,
        }
    )
    if cursor:
        request = apply_cursor(request, cursor)  # InvalidCursor: a 400 (problems.py)
    started = time.perf_counter()
    page = await run_in_threadpool(store.search, request)
    SEARCH_SECONDS.labels(sort.value, "true" if wanted else "false").observe(
        time.perf_counter() - started
    )
    return json_response(
        SearchResponse(
            query=filters.text,
            total=page.total,
            groups=page.groups,
            collapse=collapse,
            offset=request.offset,
            size=size,
            hits=page.hits,
            facets={name: page.facets.get(FACET_NAMES[name], []) for name in wanted},
            next_cursor=encode_cursor(request, page),
        )
    )
