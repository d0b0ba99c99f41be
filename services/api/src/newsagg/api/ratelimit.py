"""A token bucket per API key (per client IP when keys are off), in memory per process.

Each bucket holds up to `burst` tokens and refills at `rate` a second; a request takes one.
An empty bucket answers 429 with the seconds until the next token in Retry-After. A request
refused for its key takes a token from its client IP's bucket, so guessing keys is throttled.
The client IP is the connection's peer, or the forwarded client when the peer is a trusted
proxy (guards.install_forwarded).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi.responses import JSONResponse
from newsagg.api.metrics import RATE_LIMITED
from newsagg.api.problems import problem
from newsagg.api.security import is_protected
from starlette.types import ASGIApp, Receive, Scope, Send

MAX_TRACKED = 10_000  # above this many buckets, full ones (the same as absent) are dropped


@dataclass
class Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.buckets: dict[str, Bucket] = {}

    def take(self, who: str) -> float:
        """0 when `who` may go ahead, else the seconds until it may."""
        now = self.clock()
        bucket = self.buckets.get(who)
        if bucket is None:
            self._evict_full(now)
            bucket = self.buckets[who] = Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    def _evict_full(self, now: float) -> None:
        if len(self.buckets) < MAX_TRACKED:
            return
        refill = self.burst / self.rate
        self.buckets = {
            who: bucket for who, bucket in self.buckets.items() if now - bucket.updated < refill
        }

    def refusal(self, who: str) -> JSONResponse | None:
        """A 429 answer when `who` has no token left, else None (and a token is taken)."""
        wait = self.take(who)
        if wait <= 0:
            return None
        RATE_LIMITED.inc()
        seconds = max(1, math.ceil(wait))
        response = problem(
            429,
            "Too many requests",
            f"rate limit of {self.rate:g}/s (burst {self.burst}) reached; retry in {seconds} s",
        )
        response.headers["Retry-After"] = str(seconds)
        return response


def client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"


class RateLimitMiddleware:
    """Limits /v1 routes; must run inside ApiKeyMiddleware so the key is known."""

    def __init__(self, app: ASGIApp, buckets: TokenBuckets) -> None:
        self.app = app
        self.buckets = buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_protected(scope["path"]):
            await self.app(scope, receive, send)
            return
        key_hash = scope.get("state", {}).get("api_key_hash")
        refusal = self.buckets.refusal(f"key:{key_hash}" if key_hash else client_ip(scope))
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)
