"""Dependencies the routes ask for; tests override them with their own."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from newsagg.core.adapters import open_bus
from newsagg.core.ports import Bus, SearchStore
from newsagg.core.settings import Settings


async def get_store(request: Request) -> SearchStore:
    """async, as get_settings: FastAPI runs a plain `def` dependency in its threadpool, a
    thread handoff per request for a lookup."""
    return request.app.state.store


def get_bus(request: Request) -> Bus:
    """The bus, for readiness only: the API reads the store, but an operator wants to know
    that the pipeline feeding it is up. Opened on first use, so serving searches needs none."""
    state = request.app.state
    with state.bus_lock:
        if state.bus is None:
            settings: Settings = state.settings
            state.bus = open_bus(settings.resolved_bus_url, settings)
        return state.bus


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


StoreDep = Annotated[SearchStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
