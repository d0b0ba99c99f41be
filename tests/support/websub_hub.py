"""A real WebSub hub (W3C WebSub, 2018) on 127.0.0.1, with its publisher's pages on the
same origin, for the crawler's WebSub tests and bench/freshness.py.

What a hub does, over HTTP, as the recommendation says:
- POST /hub with hub.mode=subscribe|unsubscribe, hub.topic, hub.callback and optional
  hub.secret and hub.lease_seconds: answered 202, then the intent is verified
  asynchronously with a GET to the callback carrying a random hub.challenge; only a 2xx
  answer echoing the challenge makes the subscription active (for the lease it granted).
  A topic this hub does not host is denied (a GET with hub.mode=denied).
- POST /hub with hub.mode=publish and hub.url (the publisher's ping): the hub fetches the
  topic over HTTP and POSTs it to every active subscriber, with Link rel=hub/rel=self and,
  when the subscriber gave a secret, X-Hub-Signature: sha256=HMAC(secret, body).

The publisher's side is `put(path, body)`: pages and feeds served at GET <path>, so a
feed can name this hub and itself on one origin (a source's own origin is the only private
address its `allow_private` opens). Everything that happens is kept in `events`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

MIN_LEASE = 1
MAX_LEASE = 864_000
DEFAULT_LEASE = 3600


@dataclass
class Subscription:
    topic: str
    callback: str
    secret: str | None
    lease_seconds: int
    expires_at: float
    verified_at: float


@dataclass(frozen=True)
class Event:
    """One thing the hub did: `kind` is subscribe, verified, refused, denied, delivered,
    delivery_failed, publish; `at` is time.time()."""

    kind: str
    at: float
    topic: str
    callback: str = ""
    detail: str = ""


@dataclass
class _Page:
    body: bytes
    content_type: str


@dataclass
class _State:
    pages: dict[str, _Page] = field(default_factory=dict)
    subscriptions: dict[tuple[str, str], Subscription] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class WebSubHub:
    """The hub at `hub_url` and the publisher's pages at `url` + path, in background threads."""

    def __init__(self, *, verify_timeout: float = 5.0, max_lease: int = MAX_LEASE) -> None:
        self.verify_timeout = verify_timeout
        self.max_lease = max_lease
        self.on_get: Callable[[str], None] | None = None
        """Called with the path of every page GET, as it is answered (bench: fetch times)."""
        self._state = _State()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        handler = type("WebSubHubHandler", (_Handler,), {"hub": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self.hub_url = f"{self.url}/hub"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> WebSubHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # the publisher's side

    def put(self, path: str, body: bytes | str, content_type: str = "text/html") -> str:
        """Serve `body` at GET path (replacing what was there); returns its URL."""
        data = body.encode() if isinstance(body, str) else body
        with self._lock:
            self._state.pages[path] = _Page(data, content_type)
        return self.url + path

    def page(self, path: str) -> _Page | None:
        with self._lock:
            return self._state.pages.get(path)

    def ping(self, topic: str) -> None:
        """The publisher tells the hub that `topic` changed (POST hub.mode=publish)."""
        data = urlencode({"hub.mode": "publish", "hub.url": topic}).encode()
        with urllib.request.urlopen(self.hub_url, data=data, timeout=10) as response:
            if response.status != 202:
                raise RuntimeError(f"the hub answered {response.status} to a publish ping")

    # what the hub knows

    @property
    def events(self) -> list[Event]:
        with self._lock:
            return list(self._state.events)

    def active(self, topic: str) -> list[Subscription]:
        """The topic's subscriptions whose lease has not ended."""
        now = time.time()
        with self._lock:
            return [
                s
                for (t, _), s in self._state.subscriptions.items()
                if t == topic and s.expires_at > now
            ]

    def wait_for(
        self, kind: str, count: int = 1, timeout: float = 30.0, topic: str = ""
    ) -> list[Event]:
        """Block until `count` events of `kind` (on `topic`, if given) happened."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [
                    e
                    for e in self._state.events
                    if e.kind == kind and (not topic or e.topic == topic)
                ]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"the hub saw {len(found)} {kind!r} events, not {count}, in {timeout:.0f}s:"
                        f" {self._state.events!r}"
                    )
                self._changed.wait(left)

    def _event(self, kind: str, topic: str, callback: str = "", detail: str = "") -> None:
        with self._changed:
            self._state.events.append(Event(kind, time.time(), topic, callback, detail))
            self._changed.notify_all()

    # the hub's work, on its own threads

    def subscribe_request(self, form: dict[str, str]) -> tuple[int, str]:
        """Check a (un)subscription request; verify intent on a thread (202) or refuse (400)."""
        mode = form.get("hub.mode", "")
        topic, callback = form.get("hub.topic", ""), form.get("hub.callback", "")
        if mode not in {"subscribe", "unsubscribe"}:
            return 400, f"unknown hub.mode {mode!r}"
        if not topic or urlsplit(callback).scheme not in {"http", "https"}:
            return 400, "hub.topic and an http(s) hub.callback are required"
        secret = form.get("hub.secret") or None
        if secret is not None and len(secret.encode()) >= 200:
            return 400, "hub.secret must be shorter than 200 bytes"
        try:
            asked = int(form.get("hub.lease_seconds") or DEFAULT_LEASE)
        except ValueError:
            return 400, "hub.lease_seconds is not a number"
        lease = max(MIN_LEASE, min(asked, self.max_lease))
        self._event(mode, topic, callback, f"lease={lease}")
        threading.Thread(
            target=self._verify, args=(mode, topic, callback, secret, lease), daemon=True
        ).start()
        return 202, ""

    def _verify(self, mode: str, topic: str, callback: str, secret: str | None, lease: int) -> None:
        if self.page(urlsplit(topic).path) is None or not topic.startswith(self.url):
            self._get(
                callback, {"hub.mode": "denied", "hub.topic": topic, "hub.reason": "unknown topic"}
            )
            self._event("denied", topic, callback)
            return
        challenge = secrets.token_urlsafe(24)
        params = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge}
        if mode == "subscribe":
            params["hub.lease_seconds"] = str(lease)
        status, body = self._get(callback, params)
        if not 200 <= status < 300 or body != challenge.encode():
            self._event("refused", topic, callback, f"status={status}")
            return
        now = time.time()
        with self._lock:
            if mode == "subscribe":
                self._state.subscriptions[(topic, callback)] = Subscription(
                    topic, callback, secret, lease, now + lease, now
                )
            else:
                self._state.subscriptions.pop((topic, callback), None)
        self._event("verified", topic, callback, mode)

    def _get(self, callback: str, params: dict[str, str]) -> tuple[int, bytes]:
        joiner = "&" if urlsplit(callback).query else "?"
        try:
            with urllib.request.urlopen(
                callback + joiner + urlencode(params), timeout=self.verify_timeout
            ) as response:
                return response.status, response.read(1024)
        except urllib.error.HTTPError as error:
            return error.code, b""
        except OSError as error:
            return 0, str(error).encode()

    def publish_request(self, form: dict[str, str]) -> tuple[int, str]:
        topic = form.get("hub.url") or form.get("hub.topic") or ""
        if not topic:
            return 400, "hub.url is required"
        self._event("publish", topic)
        threading.Thread(target=self._distribute, args=(topic,), daemon=True).start()
        return 202, ""

    def _distribute(self, topic: str) -> None:
        """Fetch the topic as any client would, then POST it to every active subscriber."""
        try:
            with urllib.request.urlopen(topic, timeout=10) as response:
                body = response.read()
                content_type = response.headers.get("Content-Type", "application/octet-stream")
        except OSError as error:
            self._event("delivery_failed", topic, detail=f"fetching the topic: {error}")
            return
        for subscription in self.active(topic):
            headers = {
                "Content-Type": content_type,
                "Link": f'<{self.hub_url}>; rel="hub", <{topic}>; rel="self"',
            }
            if subscription.secret is not None:
                digest = hmac.new(subscription.secret.encode(), body, hashlib.sha256).hexdigest()
                headers["X-Hub-Signature"] = f"sha256={digest}"
            request = urllib.request.Request(
                subscription.callback, data=body, headers=headers, method="POST"
            )
            self._event("notified", topic, subscription.callback)
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    status = response.status
            except urllib.error.HTTPError as error:
                status = error.code
            except OSError as error:
                self._event("delivery_failed", topic, subscription.callback, str(error))
                continue
            kind = "delivered" if 200 <= status < 300 else "delivery_failed"
            self._event(kind, topic, subscription.callback, f"status={status}")


class _Handler(BaseHTTPRequestHandler):
    hub: WebSubHub
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        page = self.hub.page(path)
        if page is not None and self.hub.on_get is not None:
            self.hub.on_get(path)
        if page is None:
            self._send(404, b"not found", "text/plain")
        else:
            self._send(200, page.body, page.content_type)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if urlsplit(self.path).path != "/hub" or length > 65536:
            self._send(404 if length <= 65536 else 413, b"", "text/plain")
            return
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if form.get("hub.mode") == "publish":
            status, why = self.hub.publish_request(form)
        else:
            status, why = self.hub.subscribe_request(form)
        self._send(status, why.encode(), "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read `events`."""
