"""WebSub (W3C, 2018): be told when a feed changes instead of waiting for the next poll.

A feed that names a hub (`<atom:link rel="hub">` in the feed, or an HTTP `Link: <...>;
rel="hub"` header; its topic is rel="self", else the feed's URL) is subscribed to: a POST
to the hub with hub.mode=subscribe, hub.topic, hub.callback (NEWSAGG_WEBSUB_CALLBACK_URL
plus an unguessable token per topic), hub.secret and hub.lease_seconds. The callback
listener (NEWSAGG_WEBSUB_HOST/PORT, inside the crawler's reactor) then
- answers the hub's verification GET with hub.challenge, only for a topic we asked for
  at that callback, and renews the subscription when three quarters of the lease passed;
- on a content distribution POST signed with the secret (X-Hub-Signature: sha256=HMAC of
  the body; sha1, sha384 and sha512 are accepted too, as the recommendation allows)
  crawls that source at once, so the new article is fetched and published now.

Subscriptions and their secrets live in the crawl state, so a restarted crawler answers at
the same callbacks. Refused, each with a warning and newsagg_crawler_websub_total{event}:
a hub on a private address (the rules of feeds: only a source's own origins, and only with
`allow_private`), a verification or delivery for a topic we did not ask for, a bad or
missing signature, a body over NEWSAGG_MAX_PAGE_BYTES.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

from lxml import etree
from newsagg.core.settings import Settings
from newsagg.core.sources import Source
from newsagg.crawler.metrics import REGISTRY
from newsagg.crawler.middlewares import is_never_fetched, is_public, origin
from newsagg.crawler.state import CrawlState, WebSubSubscription
from prometheus_client import Counter
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.http import Request, Response
from twisted.internet.error import CannotListenError
from twisted.internet.threads import deferToThread
from twisted.web import resource, server

log = logging.getLogger("newsagg.crawler.websub")

WEBSUB_EVENTS = Counter(
    "newsagg_crawler_websub",
    "WebSub events: subscribe_sent, subscribe_failed, verified, denied, notified, and the "
    "refusals hub_refused, unknown_topic, bad_signature, too_large.",
    ["event"],
    registry=REGISTRY,
)
ATOM = "http://www.w3.org/2005/Atom"
SIGNATURES = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}
RENEW_AT = 0.75
"""Renew when this share of the lease has passed."""
RETRY_AFTER = 300.0
"""Seconds before a request the hub never verified (or denied) is sent again."""
MAX_CHALLENGE = 1024
_NAMES_A_HUB = re.compile(rb"""rel\s*=\s*["']?hub\b""", re.IGNORECASE)
_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")


def hub_links(body: bytes, headers: list[bytes], base: str) -> tuple[str | None, str | None]:
    """(hub, self) a feed names: HTTP Link headers first (the recommendation's order), then
    atom:link elements anywhere in an RSS or Atom document."""
    found: dict[str, str] = {}
    for header in headers:
        for target, params in _LINK.findall(header.decode("latin-1")):
            rels = re.search(r'rel\s*=\s*"?([^";]+)"?', params)
            for rel in rels.group(1).split() if rels else ():
                found.setdefault(rel.lower(), urljoin(base, target.strip()))
    if "hub" not in found and _NAMES_A_HUB.search(body):  # most feeds name none: no parse
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
        try:
            root = etree.fromstring(body, parser)
        except etree.XMLSyntaxError:
            root = None
        if root is not None:
            for link in root.iter(f"{{{ATOM}}}link"):
                rel, href = (link.get("rel") or "").lower(), link.get("href")
                if rel in {"hub", "self"} and href:
                    found.setdefault(rel, urljoin(base, href.strip()))
    return found.get("hub"), found.get("self")


def hub_refusal(hub: str, source: Source) -> str | None:
    """Why `hub` may not be contacted, by the rules feeds obey; None when it may."""
    parts = urlsplit(hub)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return "not an http(s) URL"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError) as exc:
        return f"cannot resolve it: {exc}"
    addresses = [str(info[4][0]) for info in infos]
    never = next((a for a in addresses if is_never_fetched(a)), None)
    if never:
        return f"{parts.hostname} is a link-local or metadata address ({never}), never contacted"
    private = next((a for a in addresses if not is_public(a)), None)
    own = {origin(url) for url in source.entry_urls()}
    if private and not (source.allow_private and origin(parts) in own):
        return (
            f"{parts.hostname} is a non-public address ({private}); a source with "
            "`allow_private: true` may use a hub on its own hosts only"
        )
    return None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A hub that redirects would lead the request past the address check."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


class WebSub:
    """Subscriptions, renewals and the callback listener of one crawler process."""

    def __init__(
        self,
        settings: Settings,
        state: CrawlState,
        sources: list[Source],
        crawl_now: Callable[[str], None],
    ) -> None:
        self.base = settings.websub_callback_url
        self.host = settings.websub_host
        self.port = settings.websub_port
        self.lease = settings.websub_lease_seconds
        self.max_bytes = settings.max_page_bytes
        self.user_agent = settings.user_agent
        self.timeout = settings.download_timeout
        self.state = state
        self.sources = {source.name: source for source in sources}
        self.crawl_now = crawl_now
        self._subscriptions = {
            token: sub for token, sub in state.subscriptions().items() if sub.source in self.sources
        }
        self._renewals: dict[str, Any] = {}

    @property
    def _reactor(self) -> Any:
        from twisted.internet import reactor  # imported late: Scrapy chooses the reactor

        return reactor

    def start(self) -> None:
        """Listen for hubs, and renew (or redo) what the crawl state remembers."""
        site = _Site(_Callback(self), timeout=self.timeout)  # idle connections closed
        site.requestFactory = type("WebSubRequest", (_LimitedRequest,), {"limit": self.max_bytes})
        try:
            self._reactor.listenTCP(self.port, site, interface=self.host)
        except CannotListenError as exc:
            raise ValueError(
                f"cannot listen for WebSub hubs on {self.host}:{self.port}: {exc.socketError};"
                " set NEWSAGG_WEBSUB_PORT to a free port or NEWSAGG_WEBSUB_HOST to an address"
                " of this machine (an empty NEWSAGG_WEBSUB_CALLBACK_URL turns WebSub off)"
            ) from exc
        log.info(
            "WebSub: listening on %s:%d for hubs (callbacks under %s), %d subscription(s) kept",
            self.host,
            self.port,
            self.base,
            len(self._subscriptions),
        )
        now = time.time()
        for sub in list(self._subscriptions.values()):
            if sub.status == "active" and sub.expires_at and sub.expires_at > now:
                self._schedule_renewal(sub)
            elif sub.status != "denied":
                self._subscribe(sub.source, sub.hub, sub.topic)

    def watch(self, crawler: Crawler) -> None:
        """Look for hub links in every feed the crawl reads."""
        crawler.signals.connect(self._response_received, signal=signals.response_received)

    def _response_received(self, response: Response, request: Request, spider: Any) -> None:
        from newsagg.crawler.spider import LISTING_KIND  # the spider imports us via runner

        source = request.cb_kwargs.get("source")
        if request.meta.get(LISTING_KIND) != "feed" or response.status != 200 or source is None:
            return
        hub, topic = hub_links(response.body, response.headers.getlist(b"Link"), response.url)
        if hub is not None:
            self.discovered(source, hub, topic or response.url)

    def discovered(self, source: Source, hub: str, topic: str) -> None:
        """A feed of `source` names `hub` for `topic`: subscribe unless already done."""
        known = self._by_topic(topic)
        now = time.time()
        if known is not None and known.hub == hub and known.source == source.name:
            if known.status == "active" and (known.expires_at or 0) > now:
                return
            if now - known.requested_at < RETRY_AFTER:
                return
        self._subscribe(source.name, hub, topic)

    def _by_topic(self, topic: str) -> WebSubSubscription | None:
        return next((s for s in self._subscriptions.values() if s.topic == topic), None)

    def _subscribe(self, source_name: str, hub: str, topic: str) -> None:
        """Send the subscription request (on a thread: it blocks), keeping the topic's
        token and secret when there is one, so deliveries in flight stay valid."""
        source = self.sources.get(source_name)
        if source is None:
            return
        known = self._by_topic(topic)
        sub = WebSubSubscription(
            topic=topic,
            source=source_name,
            hub=hub,
            token=known.token if known else secrets.token_urlsafe(18),
            secret=known.secret if known else secrets.token_hex(32),
            status="requested",
            requested_at=time.time(),
            lease_seconds=known.lease_seconds if known else None,
            expires_at=known.expires_at if known else None,
        )
        if known is not None and known.token != sub.token:
            self._subscriptions.pop(known.token, None)
        self._keep(sub)
        deferred = deferToThread(self._send, source, sub)
        deferred.addErrback(lambda failure: log.error("WebSub: %s", failure.getTraceback()))

    def _send(self, source: Source, sub: WebSubSubscription) -> None:
        refusal = hub_refusal(sub.hub, source)
        if refusal is not None:
            WEBSUB_EVENTS.labels("hub_refused").inc()
            log.warning(
                "WebSub: refused hub %s of %s (%s): %s; polling it instead",
                sub.hub,
                source.name,
                sub.topic,
                refusal,
            )
            return
        form = {
            "hub.mode": "subscribe",
            "hub.topic": sub.topic,
            "hub.callback": f"{self.base}/{sub.token}",
            "hub.secret": sub.secret,
            "hub.lease_seconds": str(self.lease),
        }
        request = urllib.request.Request(
            sub.hub,
            data=urlencode(form).encode(),
            headers={"User-Agent": self.user_agent},
            method="POST",
        )
        try:
            with _OPENER.open(request, timeout=self.timeout) as answer:
                status = answer.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError as exc:
            status, why = 0, str(exc)
        else:
            why = ""
        if 200 <= status < 300:
            WEBSUB_EVENTS.labels("subscribe_sent").inc()
            log.info(
                "WebSub: asked %s for %s of %s (lease %ds)",
                sub.hub,
                sub.topic,
                source.name,
                self.lease,
            )
        else:
            WEBSUB_EVENTS.labels("subscribe_failed").inc()
            log.warning(
                "WebSub: hub %s did not take the subscription to %s (%s); polling goes on",
                sub.hub,
                sub.topic,
                why or f"HTTP {status}",
            )

    def _keep(self, sub: WebSubSubscription) -> None:
        self._subscriptions[sub.token] = sub
        self.state.save_subscription(sub)

    def _schedule_renewal(self, sub: WebSubSubscription) -> None:
        lease = sub.lease_seconds or self.lease
        due = (sub.expires_at or time.time()) - lease * (1 - RENEW_AT)
        previous = self._renewals.pop(sub.topic, None)
        if previous is not None and previous.active():
            previous.cancel()
        self._renewals[sub.topic] = self._reactor.callLater(
            max(0.0, due - time.time()), self._renew, sub.topic
        )

    def _renew(self, topic: str) -> None:
        sub = self._by_topic(topic)
        if sub is not None:
            log.info("WebSub: renewing %s at %s", topic, sub.hub)
            self._subscribe(sub.source, sub.hub, sub.topic)

    # the listener's side

    def verify(self, token: str, args: dict[str, str]) -> tuple[int, bytes]:
        """The hub's verification of intent: the challenge back only for what we asked."""
        sub = self._subscriptions.get(token)
        mode, topic = args.get("hub.mode", ""), args.get("hub.topic", "")
        if sub is None or topic != sub.topic:
            WEBSUB_EVENTS.labels("unknown_topic").inc()
            log.warning(
                "WebSub: refused a %s verification for a topic we did not ask for: %r",
                mode,
                topic[:200],
            )
            return 404, b""
        if mode == "denied":
            WEBSUB_EVENTS.labels("denied").inc()
            log.warning(
                "WebSub: %s denied %s: %s; polling it",
                sub.hub,
                topic,
                args.get("hub.reason", "no reason given")[:200],
            )
            self._keep(replace(sub, status="denied"))
            return 200, b""
        challenge = args.get("hub.challenge", "")
        if mode != "subscribe" or sub.status not in {"requested", "active"} or not challenge:
            WEBSUB_EVENTS.labels("unknown_topic").inc()
            log.warning("WebSub: refused a %r verification of %s: not asked for", mode, topic)
            return 404, b""
        if len(challenge) > MAX_CHALLENGE:
            return 400, b""
        try:
            lease = int(args.get("hub.lease_seconds") or self.lease)
        except ValueError:
            lease = self.lease
        active = replace(sub, status="active", lease_seconds=lease, expires_at=time.time() + lease)
        self._keep(active)
        self._schedule_renewal(active)
        WEBSUB_EVENTS.labels("verified").inc()
        log.info("WebSub: %s verified %s for %ds", sub.hub, topic, lease)
        return 200, challenge.encode()

    def notified(self, token: str, body: bytes, signature: str | None) -> int:
        """A content distribution: crawl the topic's source now if the signature holds."""
        sub = self._subscriptions.get(token)
        if sub is None:
            WEBSUB_EVENTS.labels("unknown_topic").inc()
            log.warning("WebSub: refused a notification at an unknown callback")
            return 404
        method, _, digest = (signature or "").partition("=")
        algorithm = SIGNATURES.get(method.strip().lower())
        expected = hmac.new(sub.secret.encode(), body, algorithm).hexdigest() if algorithm else ""
        if not expected or not hmac.compare_digest(expected, digest.strip().lower()):
            WEBSUB_EVENTS.labels("bad_signature").inc()
            log.warning(
                "WebSub: refused a notification for %s: %s signature",
                sub.topic,
                "a bad" if signature else "no",
            )
            return 403
        WEBSUB_EVENTS.labels("notified").inc()
        log.info("WebSub: %s changed (told by %s); crawling %s now", sub.topic, sub.hub, sub.source)
        self.crawl_now(sub.source)
        return 202

    def too_large(self) -> int:
        WEBSUB_EVENTS.labels("too_large").inc()
        log.warning("WebSub: refused a notification over %d bytes", self.max_bytes)
        return 413


class _LimitedRequest(server.Request):
    """Keeps at most `limit` bytes of a body; a larger one is dropped as it arrives and
    answered 413, so a huge POST costs neither memory nor disk."""

    limit = 10_000_000
    too_large = False

    def gotLength(self, length: int | None) -> None:  # noqa: N802 (Twisted's name)
        super().gotLength(length)
        if length is not None and length > self.limit:
            self.too_large = True

    def handleContentChunk(self, data: bytes) -> None:  # noqa: N802 (Twisted's name)
        if self.too_large:
            return
        if self.content.tell() + len(data) > self.limit:
            self.too_large = True
            self.content.seek(0)
            self.content.truncate()
            return
        super().handleContentChunk(data)


class _Site(server.Site):
    def log(self, request: server.Request) -> None:
        """Quiet: each outcome has its own log line."""


class _Callback(resource.Resource):
    isLeaf = True  # noqa: N815 (Twisted's name)

    def __init__(self, websub: WebSub) -> None:
        super().__init__()
        self.websub = websub

    def _token(self, request: server.Request) -> str:
        return request.path.decode("latin-1").rstrip("/").rsplit("/", 1)[-1]

    def render_GET(self, request: server.Request) -> bytes:  # noqa: N802 (Twisted's name)
        args = {
            key.decode("latin-1"): values[0].decode("utf-8", "replace")
            for key, values in request.args.items()
            if values
        }
        status, body = self.websub.verify(self._token(request), args)
        request.setResponseCode(status)
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        return body

    def render_POST(self, request: server.Request) -> bytes:  # noqa: N802 (Twisted's name)
        if getattr(request, "too_large", False):
            status = self.websub.too_large()
        else:
            request.content.seek(0)
            body = request.content.read()
            signature = request.getHeader(b"X-Hub-Signature")
            status = self.websub.notified(
                self._token(request), body, signature.decode("latin-1") if signature else None
            )
        request.setResponseCode(status)
        return b""
