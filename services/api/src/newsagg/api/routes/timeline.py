"""GET /v1/timeline: how many articles match a query, per hour, day or week."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from newsagg.api.deps import StoreDep
from newsagg.api.models import TimelineResponse, json_response
from newsagg.api.routes.filters import FiltersDep, invalid
from newsagg.core.alerts.spikes import spike_report
from newsagg.core.search import Interval, fill_gaps
from starlette.concurrency import run_in_threadpool

router = APIRouter(prefix="/v1", tags=["search"])
MAX_BUCKETS = 10_000


@router.get(
    "/timeline",
    response_model=TimelineResponse,
    summary="Matches over time",
    responses={
        400: {"description": "The query cannot be read."},
        422: {"description": "Bad parameters, or more than 10,000 buckets."},
    },
)
async def get_timeline(
    store: StoreDep,
    filters: FiltersDep,
    interval: Annotated[
        Interval, Query(description="Bucket width: hour, day (default) or week (from Monday).")
    ] = Interval.DAY,
    spike: Annotated[
        bool,
        Query(
            description="Also judge whether the last 24 hours are a spike against the 14 days "
            "before (the saved searches' rule, on this query and filters); it costs an hourly "
            "count over 15 days, so it is asked for."
        ),
    ] = False,
) -> Response:
    counting = filters.query.model_copy(update={"size": 0, "facets": ()})
    page, found = await run_in_threadpool(
        lambda: (store.search(counting), store.timeline(counting, interval))
    )
    if found and (found[-1].start - found[0].start) / interval.step >= MAX_BUCKETS:
        raise invalid(
            "interval",
            f"more than {MAX_BUCKETS} {interval.value}s between the first and the last match: "
            "narrow from/to or use a wider interval",
        )
    buckets = fill_gaps(found, interval)
    report = None
    if spike:
        report = await run_in_threadpool(spike_report, store, counting, datetime.now(UTC))
    return json_response(
        TimelineResponse(
            query=filters.text,
            interval=interval,
            total=page.total,
            undated=page.total - sum(bucket.count for bucket in buckets),
            buckets=buckets,
            spike=report,
        )
    )
