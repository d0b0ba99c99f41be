"""The search API: create_app(settings) wires everything, nothing connects at import time."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi_offline import FastAPIOffline
from newsagg.api.guards import install_cors, install_forwarded, install_guards
from newsagg.api.metrics import REQUEST_SECONDS, REQUESTS
from newsagg.api.problems import install_problem_handlers
from newsagg.api.routes import articles, export, feeds, health, search, sources, timeline
from newsagg.api.routes.web import STATIC_PREFIX, install_web
from newsagg.core.adapters import open_store
from newsagg.core.ports import Bus, SearchStore
from newsagg.core.settings import Settings
from starlette.routing import Mount


def route_label(request: Request) -> str:
    """The route template that answered (bounded, unlike the path): "static" for the page's
    files, "unmatched" when no route did (a 404, or a request refused before routing)."""
    route = request.scope.get("route")
    if isinstance(route, Mount) or (
        route is None and request.url.path.startswith(STATIC_PREFIX + "/")
    ):
        return "static"
    return getattr(route, "path", "unmatched")


def create_app(
    settings: Settings | None = None,
    store: SearchStore | None = None,
    bus: Bus | None = None,
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
        yield
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
    app.include_router(feeds.router)
    app.include_router(timeline.router)
    app.include_router(export.router)
    app.include_router(sources.router)
    app.include_router(articles.router)
    app.include_router(health.router)
    install_web(app)

    install_guards(app, settings)

    @app.middleware("http")
    async def measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = route_label(request)
        REQUESTS.labels(route, str(response.status_code)).inc()
        REQUEST_SECONDS.labels(route).observe(time.perf_counter() - started)
        return response

    install_cors(app, settings)
    install_forwarded(app, settings)
    return app
