"""Wiring of the API service: uvicorn on NEWSAGG_API_HOST:NEWSAGG_API_PORT."""

from __future__ import annotations

import uvicorn
from newsagg.api.app import create_app
from newsagg.core.logs import configure_logging
from newsagg.core.settings import Settings


def run_api(settings: Settings) -> None:
    configure_logging(settings.log_level, settings.log_format, "api")
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
    )
