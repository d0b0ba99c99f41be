"""Bounds on what a request may ask, checked before any parsing or store work.

The query grammar already refuses a `q` over its length; these bound the rest of the URL, so
a client cannot make the API parse thousands of parameters or a huge `source=` list.
"""

from __future__ import annotations

from collections import Counter
from urllib.parse import parse_qsl

from newsagg.api.problems import problem
from starlette.types import ASGIApp, Receive, Scope, Send

MAX_QUERY_STRING_BYTES = 16384  # as uvicorn (h11) allows for a request line
MAX_PARAMETERS = 64
MAX_REPEATS = 32


def check_query_string(raw: bytes) -> tuple[int, str, str] | None:
    """(status, title, detail) of the first limit broken, or None."""
    if len(raw) > MAX_QUERY_STRING_BYTES:
        return (
            414,
            "URI too long",
            f"the query string has {len(raw)} bytes (at most {MAX_QUERY_STRING_BYTES})",
        )
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    if len(pairs) > MAX_PARAMETERS:
        return (
            422,
            "Invalid parameters",
            f"{len(pairs)} query parameters (at most {MAX_PARAMETERS})",
        )
    if pairs:
        name, count = Counter(name for name, _ in pairs).most_common(1)[0]
        if count > MAX_REPEATS:
            return (
                422,
                "Invalid parameters",
                f"{name}: given {count} times (at most {MAX_REPEATS})",
            )
    return None


class RequestLimitsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        broken = (
            check_query_string(scope.get("query_string", b"")) if scope["type"] == "http" else None
        )
        if broken is None:
            await self.app(scope, receive, send)
            return
        status, title, detail = broken
        await problem(status, title, detail)(scope, receive, send)
