"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from newsagg.api.deps import StoreDep, get_bus
from newsagg.api.metrics import exposition
from newsagg.api.models import BusHealth, Health
from newsagg.api.problems import NotReady
from newsagg.core.ports import BusUnavailable, DataCorrupted
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="The process is up")
async def get_health() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    summary="The store answers searches; the bus is reported alone",
    responses={
        503: {
            "model": Health,
            "description": "The store is down, or damaged: then a problem+json naming the"
            " damaged file and the repair command",
        }
    },
)
async def get_readiness(request: Request, store: StoreDep) -> Health:
    """Ready means searches can be answered, which takes the store alone. The bus feeds the
    index, so an operator wants its state here too, but a bus that is down or damaged leaves
    every search answerable: it is reported in `bus` and does not fail readiness."""
    bus = await run_in_threadpool(_bus_health, request)
    try:
        store_ok = await run_in_threadpool(store.health)
    except DataCorrupted as exc:
        raise NotReady(Health(status="unavailable", store=False, bus=bus), damage=exc) from exc
    if not store_ok:
        raise NotReady(Health(status="unavailable", store=False, bus=bus))
    count = await run_in_threadpool(store.count)
    return Health(status="ok", store=True, bus=bus, articles=count)


def _bus_health(request: Request) -> BusHealth:
    try:
        if get_bus(request).health():
            return BusHealth(ok=True)
        return BusHealth(ok=False, error="the bus does not answer")
    except DataCorrupted as exc:
        return BusHealth(ok=False, error=str(exc), corrupted=True)
    except (BusUnavailable, OSError, ValueError) as exc:
        return BusHealth(ok=False, error=str(exc) or type(exc).__name__)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def get_metrics() -> Response:
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)
