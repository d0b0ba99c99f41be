"""The search API: create_app(settings) wires everything, nothing connects at import time."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from newsagg.api.guards import install_cors, install_forwarded, install_guards
from newsagg.api.metrics import REQUEST_SECONDS, REQUESTS
from newsagg.api.problems import install_problem_handlers
from newsagg.api.routes import (
    articles,
    export,
    feeds,
    health,
    saved_searches,
    search,
    sources,
    stories,
    timeline,
)
from newsagg.api.routes.web import STATIC_PREFIX, install_web
from newsagg.core.adapters import open_store
from newsagg.core.ports import AlertStore, Bus, SearchStore
from newsagg.core.settings import Settings
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def route_label(scope: Scope) -> str:
    """The route template that answered (bounded, unlike the path): "static" for the page's
    files, "unmatched" when no route did (a 404, or a request refused before routing)."""
    route = scope.get("route")
    if isinstance(route, Mount) or (
        route is None and scope["path"].startswith(STATIC_PREFIX + "/")
    ):
        return "static"
    return getattr(route, "path", "unmatched")


class MeasureMiddleware:
    """Counts and times every request by route and status, when its answer starts (as
    long as a stream then takes). Plain ASGI: Starlette's BaseHTTPMiddleware runs each
    request through a task and memory streams, a cost every request paid."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def measured_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                route = route_label(scope)
                REQUESTS.labels(route, str(message["status"])).inc()
                REQUEST_SECONDS.labels(route).observe(time.perf_counter() - started)
            await send(message)

        await self.app(scope, receive, measured_send)


def freeze_startup_objects() -> None:
    """Leave what the worker holds from its start (modules, models, the store) out of the
    garbage collector's full passes: each walked all of them, in whichever request crossed
    the threshold (~50 ms of CPU for the ~85,000 objects bench/search.py's process holds
    after its imports; the faceted search's CPU p99 at 1M articles was three times its p50)."""
    gc.collect()
    gc.freeze()


def create_app(
    settings: Settings | None = None,
    store: SearchStore | None = None,
    bus: Bus | None = None,
    alert_store: AlertStore | None = None,
) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.store = store or open_store(
            settings.resolved_store_url, writable=False, settings=settings
        )
        app.state.bus = bus  # opened by the first readiness check (deps.get_bus)
        app.state.bus_lock = threading.Lock()
        # Saved searches, read-write (the API saves them, the alerts worker delivers them):
        # opened by their first route (saved_searches.get_alert_store), so an API that
        # serves none touches no alerts file and an alerts cluster down cannot stop it.
        app.state.alert_store = alert_store
        app.state.alert_lock = threading.Lock()
        freeze_startup_objects()
        yield
        if app.state.alert_store is not None:
            app.state.alert_store.close()
        app.state.store.close()
        if app.state.bus is not None:
            app.state.bus.close()

    # /docs and /redoc from assets shipped in a wheel, not a CDN: they work offline.
    app = FastAPIOffline(
        title="newsagg search API",
        version="0.1.0",
        description="Ranked, highlighted, filterable search over crawled news articles.",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    app.include_router(search.router)
    app.include_router(stories.router)
    app.include_router(feeds.router)
    app.include_router(timeline.router)
    app.include_router(export.router)
    app.include_router(sources.router)
    app.include_router(articles.router)
    app.include_router(saved_searches.router)
    app.include_router(saved_searches.feed_router)
    app.include_router(health.router)
    install_web(app)

    install_guards(app, settings)
    app.add_middleware(MeasureMiddleware)  # outside the guards: refusals are counted too
    install_cors(app, settings)
    install_forwarded(app, settings)
    return app
