"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from newsagg.api.deps import StoreDep
from newsagg.api.models import Health
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="The process is up")
async def get_health() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    summary="The store answers",
    responses={503: {"model": Health}},
)
async def get_readiness(store: StoreDep) -> Health | JSONResponse:
    ready = await run_in_threadpool(store.health)
    if not ready:
        return JSONResponse(Health(status="unavailable", store=False).model_dump(), status_code=503)
    count = await run_in_threadpool(store.count)
    return Health(status="ok", store=True, articles=count)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def get_metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
