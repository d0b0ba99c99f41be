"""Downloader middlewares: no requests to private networks, and retries that back off.

Both are listed in runner.scrapy_settings; a redirected request goes through the
whole chain again, so a redirect to a private address is refused like a link to one.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.asyncio import run_in_thread, sleep

log = logging.getLogger("newsagg.crawler")

ALLOW_PRIVATE = "newsagg_allow_private"
"""Request meta key: the source of this request allows private addresses."""
MAX_BACKOFF = 60.0

Resolver = Callable[[str, int], Awaitable[list[str]]]


class PrivateAddressRefused(IgnoreRequest):
    """The URL's host is (or resolves to) a non-public address."""


def is_public(address: str) -> bool:
    """False for private, loopback, link-local, multicast, reserved and unspecified."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


async def resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for host (in a thread: it blocks)."""
    infos = await run_in_thread(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class PrivateAddressMiddleware:
    """Refuses requests whose host is a private, loopback, link-local, multicast or
    reserved address, unless the request's source sets `allow_private`.

    Requests Scrapy makes itself (robots.txt) are allowed for hosts an allowing
    source has already requested. A host that does not resolve is left to the
    downloader, which reports it. The check is on the resolver's answer just before
    the download; a DNS answer that changes between the two is not caught.
    """

    def __init__(self, crawler: Crawler, resolver: Resolver = resolve) -> None:
        self.crawler = crawler
        self.resolver = resolver
        self.allowed_hosts: set[str] = set()
        self._verdicts: dict[str, str | None] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PrivateAddressMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        parts = urlsplit(request.url)
        host, netloc = parts.hostname or "", parts.netloc.lower()
        if request.meta.get(ALLOW_PRIVATE):
            self.allowed_hosts.add(netloc)
            return
        if request.meta.get("dont_obey_robotstxt") and netloc in self.allowed_hosts:
            return
        if host not in self._verdicts:
            self._verdicts[host] = await self._private_address(host, parts.port or 80)
        if (address := self._verdicts[host]) is not None:
            self.crawler.stats.inc_value("newsagg/private_address_refused")
            raise PrivateAddressRefused(
                f"refused {request.url}: {host} is a non-public address ({address})"
            )

    async def _private_address(self, host: str, port: int) -> str | None:
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            try:
                addresses = await self.resolver(host, port)
            except OSError:
                return None
        return next((a for a in addresses if not is_public(a)), None)


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries (same codes, exceptions and RETRY_TIMES), but the n-th retry
    waits NEWSAGG_RETRY_BACKOFF * 2**(n-1) seconds first, so a struggling server
    gets room instead of an immediate second hit."""

    backoff: float = 0.0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        middleware = super().from_crawler(crawler)
        middleware.backoff = crawler.settings.getfloat("NEWSAGG_RETRY_BACKOFF", 0.0)
        return middleware

    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response
    ) -> Request | Response:
        return await self._after_backoff(super().process_response(request, response))

    async def process_exception(  # type: ignore[override]
        self, request: Request, exception: Exception
    ) -> Request | Response | None:
        return await self._after_backoff(super().process_exception(request, exception))

    async def _after_backoff(self, result: Request | Response | None) -> Request | Response | None:
        if isinstance(result, Request) and self.backoff > 0:
            attempt = int(result.meta.get("retry_times", 1))
            await sleep(min(MAX_BACKOFF, self.backoff * 2 ** (attempt - 1)))
        return result
