"""Wiring of the API service: uvicorn on NEWSAGG_API_HOST:NEWSAGG_API_PORT."""

from __future__ import annotations

import uvicorn
from newsagg.api.app import create_app
from newsagg.core.logs import configure_logging
from newsagg.core.settings import Settings
from starlette.types import ASGIApp


def run_api(settings: Settings) -> None:
    configure_logging(settings.log_level, settings.log_format, "api")
    uvicorn.Server(server_config(settings, create_app(settings))).run()


def server_config(settings: Settings, app: ASGIApp) -> uvicorn.Config:
    """uvicorn's settings. X-Forwarded-For is the app's business (guards.install_forwarded,
    from NEWSAGG_API_TRUSTED_PROXIES): uvicorn's own reading would trust any local client."""
    return uvicorn.Config(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )
