"""Errors as RFC 7807 problem+json: a client always learns what was wrong, never a bare 500.

Routes raise; the handlers here are the one place an exception becomes an answer. Only
the middlewares (keys, rate limit, request limits) answer with `problem` themselves, since
they run outside the routes and their handlers.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from newsagg.api.models import Health
from newsagg.core.ports import DataCorrupted, IndexOutdated, StoreUnavailable
from newsagg.core.query import QuerySyntaxError
from newsagg.core.search import InvalidCursor
from starlette.exceptions import HTTPException

log = logging.getLogger("newsagg.api")
PROBLEM_JSON = "application/problem+json"


class NotReady(Exception):
    """/readyz's 503: the store cannot answer searches, because it is down or `damage`d."""

    def __init__(self, health: Health, damage: DataCorrupted | None = None) -> None:
        super().__init__(str(damage) if damage else "the search store does not answer")
        self.health = health
        self.damage = damage


class Refused(Exception):
    """A request understood and refused (a conflict, a value only the route can judge):
    the route raises it with the problem's title and any extra members."""

    def __init__(self, status: int, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.extra = extra


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def corrupted_problem(exc: DataCorrupted, **extra: Any) -> JSONResponse:
    """A 503 without Retry-After: damaged data stays damaged until someone repairs it."""
    return problem(
        503,
        "Data corrupted",
        str(exc),
        path=exc.path,
        problem=exc.problem,
        remedy=exc.remedy,
        runbook="docs/runbook.md",
        **extra,
    )


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(QuerySyntaxError)
    async def invalid_query(_: Request, exc: QuerySyntaxError) -> JSONResponse:
        return problem(400, "Invalid query", str(exc), position=exc.position, reason=exc.reason)

    @app.exception_handler(Refused)
    async def refused(_: Request, exc: Refused) -> JSONResponse:
        return problem(exc.status, exc.title, str(exc), **exc.extra)

    @app.exception_handler(InvalidCursor)
    async def invalid_cursor(_: Request, exc: InvalidCursor) -> JSONResponse:
        return problem(400, "Invalid cursor", str(exc), parameter="cursor")

    @app.exception_handler(RequestValidationError)
    async def invalid_parameters(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "parameter": ".".join(str(p) for p in err["loc"][1:]) or str(err["loc"][0]),
                "message": err["msg"],
            }
            for err in exc.errors()
        ]
        detail = "; ".join(f"{e['parameter']}: {e['message']}" for e in errors)
        return problem(422, "Invalid parameters", detail, errors=errors)

    @app.exception_handler(StoreUnavailable)
    async def store_down(_: Request, exc: StoreUnavailable) -> JSONResponse:
        log.warning("store unavailable: %s", exc)
        response = problem(503, "Search store unavailable", str(exc))
        response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(DataCorrupted)
    async def data_corrupted(_: Request, exc: DataCorrupted) -> JSONResponse:
        log.error("data corrupted: %s", exc)
        return corrupted_problem(exc)

    @app.exception_handler(IndexOutdated)
    async def index_outdated(_: Request, exc: IndexOutdated) -> JSONResponse:
        """A 503 without Retry-After, like damage: the index answers other searches, but
        this one only after an operator rebuilds it (`remedy`)."""
        log.error("index outdated: %s", exc)
        return problem(
            503,
            "Index outdated",
            str(exc),
            problem=exc.problem,
            remedy=exc.remedy,
        )

    @app.exception_handler(NotReady)
    async def not_ready(_: Request, exc: NotReady) -> JSONResponse:
        """Damage is a problem+json naming the repair (no Retry-After: waiting cannot mend
        it); an outage is the health body itself, as probes read it."""
        bus = exc.health.bus.model_dump() if exc.health.bus else None
        if exc.damage is not None:
            return corrupted_problem(exc.damage, corrupted="store", store=False, bus=bus)
        return JSONResponse(exc.health.model_dump(), status_code=503)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        return problem(exc.status_code, title, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem(500, "Internal error", "the server failed; the error is logged")
