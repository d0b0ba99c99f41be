"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from newsagg.api.deps import StoreDep, get_bus
from newsagg.api.models import Health
from newsagg.api.problems import corrupted_problem
from newsagg.core.ports import BusUnavailable, DataCorrupted
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
    responses={
        503: {
            "model": Health,
            "description": "Something is down, or damaged: then a problem+json naming the"
            " damaged file and the repair command",
        }
    },
)
async def get_readiness(request: Request, store: StoreDep) -> Health | JSONResponse:
    store_ok = await run_in_threadpool(_checked, store.health)
    bus_ok = await run_in_threadpool(_checked, lambda: _bus_ready(request))
    for component, damage in (("store", store_ok), ("bus", bus_ok)):
        if isinstance(damage, DataCorrupted):
            return corrupted_problem(
                damage, corrupted=component, store=store_ok is True, bus=bus_ok is True
            )
    if not (store_ok and bus_ok):
        down = Health(status="unavailable", store=store_ok is True, bus=bus_ok is True)
        return JSONResponse(down.model_dump(), status_code=503)
    count = await run_in_threadpool(store.count)
    return Health(status="ok", store=True, bus=True, articles=count)


def _checked(health: Callable[[], bool]) -> bool | DataCorrupted:
    """The health answer, or the damage found while asking."""
    try:
        return health()
    except DataCorrupted as exc:
        return exc


def _bus_ready(request: Request) -> bool:
    try:
        return get_bus(request).health()
    except (BusUnavailable, OSError, ValueError):
        return False


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def get_metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
