"""Dependencies the routes ask for; tests override them with their own."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from newsagg.core.ports import SearchStore
from newsagg.core.settings import Settings


def get_store(request: Request) -> SearchStore:
    return request.app.state.store


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


StoreDep = Annotated[SearchStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
