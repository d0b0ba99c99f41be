"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from newsagg.api.deps import StoreDep, get_bus
from newsagg.api.models import Health
from newsagg.core.ports import BusUnavailable
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="The process is up")
async def get_health() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    summary="The store and the bus answer",
    responses={503: {"model": Health}},
)
async def get_readiness(request: Request, store: StoreDep) -> Health | JSONResponse:
    store_ok = await run_in_threadpool(store.health)
    bus_ok = await run_in_threadpool(_bus_ready, request)
    if not (store_ok and bus_ok):
        down = Health(status="unavailable", store=store_ok, bus=bus_ok)
        return JSONResponse(down.model_dump(), status_code=503)
    count = await run_in_threadpool(store.count)
    return Health(status="ok", store=True, bus=True, articles=count)


def _bus_ready(request: Request) -> bool:
    try:
        return get_bus(request).health()
    except (BusUnavailable, OSError, ValueError):
        return False


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def get_metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
