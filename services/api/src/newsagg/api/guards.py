"""Wires the request guards (limits, API keys, rate limit, CORS) into the app from settings.

Order, outermost first: the forwarded client (so everything inside sees the real client
IP), CORS (so preflights and error answers carry its headers), metrics, request limits,
API key, rate limit (per key, so after the key is known), the routes.
"""

from __future__ import annotations

from fastapi import FastAPI
from newsagg.api.limits import RequestLimitsMiddleware
from newsagg.api.openapi import document_errors
from newsagg.api.ratelimit import RateLimitMiddleware, TokenBuckets, client_ip
from newsagg.api.security import API_KEY_HEADER, ApiKeyMiddleware, ApiKeys
from newsagg.core.settings import Settings
from starlette.middleware.cors import CORSMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


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
    document_errors(app, keys.enabled, settings.api_rate_limit > 0)


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
