"""Downloader middlewares: only http(s), no requests to private networks, retries
that back off, and meta refresh followed without decoding every page.

They are listed in runner.scrapy_settings; a redirected request goes through the
whole chain again, so a redirect to a private address (or to file://) is refused
like a link to one.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import SplitResult, urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares import redirect
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, Response
from scrapy.utils.asyncio import run_in_thread, sleep

log = logging.getLogger("newsagg.crawler")

ALLOW_PRIVATE = "newsagg_allow_private"
"""Request meta key: the origins (host:port) its source may reach on private addresses."""
FETCHED_SCHEMES = frozenset({"http", "https"})
NEVER_FETCHED = frozenset({ipaddress.ip_address("fd00:ec2::254")})
"""Cloud metadata services outside link-local space (AWS over IPv6)."""
MAX_BACKOFF = 60.0
REFRESH_SCAN_BYTES = 32768
"""Scrapy looks for a meta refresh in a page's first 4,096 characters: 32 KiB of bytes
hold them at up to 8 bytes a character (UTF-8 and GB18030 take at most 4; the ISO-2022
escapes add a few)."""
_UNSCANNABLE_BYTES = (b"\x00", b"\x1b", b"\x0e", b"\x0f")
"""Bytes of encodings in which a page's "refresh" need not be its ASCII bytes: UTF-16 and
UTF-32 put a NUL beside every ASCII letter; the ISO-2022 encodings' escapes and shifts
(ESC, SO, SI) decode to nothing, so they may split a word (w3lib's `_scannable` rule)."""
_UNSCANNABLE_NAMES = (b"utf-7", b"utf7")
"""UTF-7 may spell ASCII letters in base64."""

Resolver = Callable[[str, int], Awaitable[list[str]]]


class SchemeRefused(IgnoreRequest):
    """The URL is not http(s): file://, data:, ftp:// and the rest are never fetched."""


class PrivateAddressRefused(IgnoreRequest):
    """The URL's host is (or resolves to) a non-public address."""


def _ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_public(address: str) -> bool:
    """False for private, loopback, link-local, multicast, reserved and unspecified."""
    ip = _ip(address)
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def is_never_fetched(address: str) -> bool:
    """Link-local (169.254/16, fe80::/10: cloud metadata lives there) and the other
    metadata addresses: refused even for a source that sets allow_private."""
    ip = _ip(address)
    return ip.is_link_local or ip in NEVER_FETCHED


def origin(url: str | SplitResult) -> str:
    """host:port of an http(s) URL, the unit a source's `allow_private` opens."""
    parts = urlsplit(url) if isinstance(url, str) else url
    try:
        port = parts.port
    except ValueError:
        port = None
    host = (parts.hostname or "").rstrip(".")
    return f"{host}:{port or (443 if parts.scheme == 'https' else 80)}"


async def resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for host (in a thread: it blocks)."""
    infos = await run_in_thread(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class PrivateAddressMiddleware:
    """Refuses every request that is not http(s), and those whose host is a private,
    loopback, link-local, multicast or reserved address, except a source's own hosts
    when it sets `allow_private` (the origins in the request's ALLOW_PRIVATE meta: a
    feed on an allowed host does not open the other private hosts it links to).
    Link-local and metadata addresses are refused always.

    Requests Scrapy makes itself (robots.txt) are allowed for origins an allowing
    source has already requested. A host that does not resolve is left to the
    downloader, which reports it. The check is on the resolver's answer just before
    the download; a DNS answer that changes between the two is not caught.
    """

    def __init__(self, crawler: Crawler, resolver: Resolver = resolve) -> None:
        self.crawler = crawler
        self.resolver = resolver
        self.allowed_origins: set[str] = set()
        self._addresses: dict[str, list[str]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PrivateAddressMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme.lower() not in FETCHED_SCHEMES:
            self.crawler.stats.inc_value("newsagg/scheme_refused")
            raise SchemeRefused(
                f"refused {request.url[:200]}: only http and https addresses are fetched"
            )
        host, where = parts.hostname or "", origin(parts)
        allowed = where in request.meta.get(ALLOW_PRIVATE, ())
        if allowed:
            self.allowed_origins.add(where)
        elif request.meta.get("dont_obey_robotstxt") and where in self.allowed_origins:
            allowed = True
        addresses = await self._resolved(host, parts.port or 80)
        never = next((a for a in addresses if is_never_fetched(a)), None)
        private = never or next((a for a in addresses if not is_public(a)), None)
        if never or (private and not allowed):
            self.crawler.stats.inc_value("newsagg/private_address_refused")
            hint = (
                "link-local and metadata addresses are never fetched"
                if never
                else "a source may set `allow_private: true` to reach its own hosts"
                " (those of its feeds, sitemaps, homepage and sections) on private addresses"
            )
            raise PrivateAddressRefused(
                f"refused {request.url}: {host} is a non-public address ({private}); {hint}"
            )

    async def _resolved(self, host: str, port: int) -> list[str]:
        if host not in self._addresses:
            try:
                self._addresses[host] = [str(ipaddress.ip_address(host.strip("[]")))]
            except ValueError:
                try:
                    self._addresses[host] = await self.resolver(host, port)
                except OSError:
                    self._addresses[host] = []
        return self._addresses[host]


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


def may_refresh(body: bytes, content_type: bytes = b"") -> bool:
    """False when the page's head cannot hold a meta refresh: its bytes do not spell
    "refresh" in any case, in an encoding whose ASCII letters are their ASCII bytes."""
    head = body[:REFRESH_SCAN_BYTES].lower()
    return (
        b"refresh" in head
        or any(sign in head for sign in _UNSCANNABLE_BYTES)
        or any(name in head or name in content_type.lower() for name in _UNSCANNABLE_NAMES)
    )


class MetaRefreshMiddleware(redirect.MetaRefreshMiddleware):
    """Scrapy's meta refresh redirects, but a page whose bytes rule one out is passed on
    undecoded. Scrapy decodes every HTML response in full to read its first 4,096
    characters (0.4 ms of the reactor's CPU a page, 7 % of it in the benchmark crawl),
    and the crawler never needs the decoded text of an article page."""

    def process_response(  # type: ignore[override]
        self, request: Request, response: Response
    ) -> Request | Response:
        content_type = response.headers.get(b"Content-Type") or b""
        if isinstance(response, HtmlResponse) and not may_refresh(response.body, content_type):
            return response
        return super().process_response(request=request, response=response)
