"""Wires the request guards (limits, API keys, rate limit, CORS) into the app from settings.

Order, outermost first: the forwarded client (so everything inside sees the real client
IP), CORS (so preflights and error answers carry its headers), metrics, request limits,
API key, rate limit (per key, so after the key is known), the routes.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from newsagg.api.limits import RequestLimitsMiddleware
from newsagg.api.ratelimit import RateLimitMiddleware, TokenBuckets, client_ip
from newsagg.api.security import API_KEY_HEADER, ApiKeyMiddleware, ApiKeys, is_protected
from newsagg.core.settings import Settings
from starlette.middleware.cors import CORSMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

PROBLEM_SCHEMA = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
    "required": ["title", "status", "detail"],
}
VALIDATION_PROBLEM_SCHEMA = {
    **PROBLEM_SCHEMA,
    "properties": {
        **PROBLEM_SCHEMA["properties"],
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"parameter": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def install_guards(app: FastAPI, settings: Settings) -> None:
    """Inside the metrics middleware, so refused requests are counted too."""
    keys = ApiKeys.from_setting(settings.api_keys)
    buckets = None
    if settings.api_rate_limit > 0:
        buckets = TokenBuckets(settings.api_rate_limit, settings.api_rate_burst)
        app.add_middleware(RateLimitMiddleware, buckets=buckets)
    if keys.enabled:
        throttle = (lambda scope: buckets.refusal(client_ip(scope))) if buckets else None
        app.add_middleware(ApiKeyMiddleware, keys=keys, throttle=throttle)
    app.add_middleware(RequestLimitsMiddleware)
    _document(app, keys.enabled, settings.api_rate_limit > 0)


def install_cors(app: FastAPI, settings: Settings) -> None:
    """Outermost: call after every other middleware is added."""
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "HEAD", "OPTIONS"],
            allow_headers=[API_KEY_HEADER],
            expose_headers=["Retry-After"],
            max_age=600,
        )


def install_forwarded(app: FastAPI, settings: Settings) -> None:
    """Outermost: the client is the connection's peer unless that peer is a trusted proxy.

    Only then is X-Forwarded-For read (its last untrusted address is the client), so no
    client can pick the IP that the rate limit counts by sending the header itself.
    """
    if settings.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)


def _document(app: FastAPI, keys_on: bool, limit_on: bool) -> None:
    """Tell OpenAPI (and so generated clients) the truth about errors.

    FastAPI documents its own 422 body and none for errors a route only describes; ours are
    problem+json (problems.py). The key header and the 401/429 answers exist only when
    configured.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        problem_ref = {"$ref": "#/components/schemas/Problem"}
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        schemas.setdefault("Problem", PROBLEM_SCHEMA)
        schemas.setdefault("ValidationProblem", VALIDATION_PROBLEM_SCHEMA)
        invalid = {"$ref": "#/components/schemas/ValidationProblem"}
        if keys_on:
            components.setdefault("securitySchemes", {})["ApiKey"] = {
                "type": "apiKey",
                "in": "header",
                "name": API_KEY_HEADER,
            }
        extra = {
            **({"401": "Missing or wrong API key."} if keys_on else {}),
            **({"429": "Rate limit reached; see Retry-After."} if limit_on else {}),
        }
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if "422" in responses:
                    responses["422"]["content"] = {"application/problem+json": {"schema": invalid}}
                for status, response in responses.items():
                    if status[0] in "45" and not response.get("content"):
                        response["content"] = {"application/problem+json": {"schema": problem_ref}}
                for status, description in _implied_errors(path, operation).items():
                    responses.setdefault(
                        status,
                        {
                            "description": description,
                            "content": {"application/problem+json": {"schema": problem_ref}},
                        },
                    )
            if not is_protected(path):
                continue
            for operation in operations.values():
                if keys_on:
                    operation["security"] = [{"ApiKey": []}]
                for status, description in extra.items():
                    operation.setdefault("responses", {})[status] = {
                        "description": description,
                        "content": {"application/problem+json": {"schema": problem_ref}},
                    }
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _implied_errors(path: str, operation: dict[str, Any]) -> dict[str, str]:
    """Errors problems.py answers for any route of this shape, unless the route documents them."""
    names = {(p.get("in"), p.get("name")) for p in operation.get("parameters", [])}
    errors = {}
    if ("query", "q") in names:
        errors["400"] = "The query cannot be read; `position` says where."
    if any(where == "path" for where, _ in names):
        errors["404"] = "Nothing has this id."
    if is_protected(path):
        errors["503"] = "The search store is unavailable; see Retry-After."
    return errors
