"""The OpenAPI description told the truth about errors, keys and limits.

FastAPI documents its own 422 body and no body for errors a route only describes; ours are
problem+json (problems.py). The key header and the 401/429 answers exist only when
configured, so a generated client knows exactly what this deployment can answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from newsagg.api.security import API_KEY_HEADER, is_protected

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
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
VALIDATION_PROBLEM_REF = {"$ref": "#/components/schemas/ValidationProblem"}


def document_errors(app: FastAPI, keys_on: bool, limit_on: bool) -> None:
    """Replace app.openapi with one that rewrites FastAPI's schema once, on first use."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if not app.openapi_schema:
            app.openapi_schema = rewritten(build(), keys_on, limit_on)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def rewritten(schema: dict[str, Any], keys_on: bool, limit_on: bool) -> dict[str, Any]:
    """FastAPI's schema with our error bodies, implied errors, key scheme and 401/429."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.setdefault("Problem", PROBLEM_SCHEMA)
    schemas.setdefault("ValidationProblem", VALIDATION_PROBLEM_SCHEMA)
    if keys_on:
        components.setdefault("securitySchemes", {})["ApiKey"] = {
            "type": "apiKey",
            "in": "header",
            "name": API_KEY_HEADER,
        }
    guard_errors = {
        **({"401": "Missing or wrong API key."} if keys_on else {}),
        **({"429": "Rate limit reached; see Retry-After."} if limit_on else {}),
    }
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                responses["422"]["content"] = problem_content(VALIDATION_PROBLEM_REF)
            for status, response in responses.items():
                if status[0] in "45" and not response.get("content"):
                    response["content"] = problem_content(PROBLEM_REF)
            for status, description in implied_errors(path, operation).items():
                responses.setdefault(status, problem_response(description))
        if not is_protected(path):
            continue
        for operation in operations.values():
            if keys_on:
                operation["security"] = [{"ApiKey": []}]
            for status, description in guard_errors.items():
                operation.setdefault("responses", {})[status] = problem_response(description)
    return schema


def implied_errors(path: str, operation: dict[str, Any]) -> dict[str, str]:
    """Errors problems.py answers for any route of this shape, unless the route documents them."""
    names = {(p.get("in"), p.get("name")) for p in operation.get("parameters", [])}
    errors = {}
    if ("query", "q") in names:
        errors["400"] = "The query cannot be read; `position` says where."
    if "requestBody" in operation:
        errors["400"] = "The body is not JSON."
    if any(where == "path" for where, _ in names):
        errors["404"] = "Nothing has this id."
    if is_protected(path):
        errors["503"] = (
            "The search store is unavailable (see Retry-After), or its data is damaged or "
            "too old for a filter asked for (see `remedy`)."
        )
    return errors


def problem_content(schema_ref: dict[str, str]) -> dict[str, Any]:
    return {"application/problem+json": {"schema": schema_ref}}


def problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": problem_content(PROBLEM_REF)}
