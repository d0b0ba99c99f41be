"""GET /v1/sources: what is crawled, how much of it is indexed, and how fresh it is."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from newsagg.api.deps import SettingsDep, StoreDep
from newsagg.api.models import SourceInfo, SourcesResponse
from newsagg.core.sources import SourcesError, load_sources
from starlette.concurrency import run_in_threadpool

router = APIRouter(prefix="/v1", tags=["sources"])
log = logging.getLogger("newsagg.api")


@router.get("/sources", response_model=SourcesResponse, summary="Sources and their freshness")
async def list_sources(store: StoreDep, settings: SettingsDep) -> SourcesResponse:
    """The configured sources, then any other source the index holds articles of.

    Freshness comes from the index (newest crawled_at per source), not from the crawler's
    state, so it is the same on every store and says when a crawl last brought something in.
    """
    try:
        configured = [source.name for source in load_sources(settings.sources)]
    except SourcesError as exc:  # the API serves the index even without a sources file
        log.info("sources file not read, listing the index's sources only: %s", exc)
        configured = []
    stats = {s.name: s for s in await run_in_threadpool(store.source_stats)}
    names = configured + sorted(name for name in stats if name not in configured)
    return SourcesResponse(
        sources=[
            SourceInfo(
                name=name,
                configured=name in configured,
                articles=stats[name].articles if name in stats else 0,
                newest_published_at=stats[name].newest_published_at if name in stats else None,
                last_crawled_at=stats[name].last_crawled_at if name in stats else None,
            )
            for name in names
        ]
    )
