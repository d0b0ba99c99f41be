"""Why a fetch failed, in a few words that make good log lines and metric labels."""

from __future__ import annotations

from dataclasses import dataclass

from newsagg.crawler.middlewares import PrivateAddressRefused, SchemeRefused
from scrapy.exceptions import DownloadCancelledError, DownloadTimeoutError, IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.defer import CancelledError
from twisted.internet.error import TimeoutError as TwistedTimeoutError
from twisted.python.failure import Failure

TRANSIENT_STATUS = frozenset({408, 429})
FETCH_OUTCOMES = {
    "private_address": "refused_private",
    "not_http": "refused_private",
    "robots_disallowed": "robots_denied",
    "too_large": "too_large",
    "timeout": "timeout",
    "http_4xx": "http_4xx",
    "http_5xx": "http_5xx",
}
"""FetchFailure.reason -> the fetch outcome label of the metrics (docs/monitoring.md): our
address policy's refusals are one outcome; redirect loops, connection, DNS and TLS
failures are `error`."""


def fetch_outcome(reason: str) -> str:
    return FETCH_OUTCOMES.get(reason, "error")


@dataclass(frozen=True)
class FetchFailure:
    reason: str
    """private_address, not_http, robots_disallowed, too_large, redirect_loop, timeout,
    http_4xx, http_5xx, ignored or connection."""
    transient: bool
    """Worth trying again on the next pass (a timeout, a 5xx), not a property of the URL."""
    detail: str


def classify(failure: Failure) -> FetchFailure:
    exc = failure.value
    detail = failure.getErrorMessage()
    if isinstance(exc, PrivateAddressRefused):
        return FetchFailure("private_address", False, detail)
    if isinstance(exc, SchemeRefused):
        return FetchFailure("not_http", False, detail)
    if isinstance(exc, HttpError):
        status = exc.response.status
        transient = status >= 500 or status in TRANSIENT_STATUS
        return FetchFailure(f"http_{status // 100}xx", transient, f"HTTP {status}")
    if isinstance(exc, IgnoreRequest):
        if "robots.txt" in detail:
            return FetchFailure("robots_disallowed", False, detail)
        if "redirections" in detail:
            return FetchFailure("redirect_loop", False, detail)
        if "DOWNLOAD_MAXSIZE" in detail:
            return FetchFailure("too_large", False, detail)
        return FetchFailure("ignored", False, detail)
    if isinstance(exc, DownloadTimeoutError | TwistedTimeoutError | TimeoutError):
        return FetchFailure("timeout", True, detail)
    if isinstance(exc, DownloadCancelledError | CancelledError):
        return FetchFailure("too_large", False, detail or "download cancelled (size limit)")
    return FetchFailure("connection", True, detail)
