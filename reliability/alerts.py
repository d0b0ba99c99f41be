"""The alerts side of a fault run: one saved search that matches every story of the site,
saved through the API before the crawl begins, delivering instant webhooks to a receiver
on 127.0.0.1; and what that receiver was delivered.

The receiver checks every POST's HMAC signature itself (hashlib, not newsagg's code, so
a signature over other bytes or under another key is caught) and keeps each POST with the
answer it gave. For the receiver-outage rows it answers 500, or refuses connections, for a
while. What a run counts against the articles the index holds: delivered (distinct
articles in deliveries answered 2xx), lost (indexed but never delivered) and duplicated
(one article under two X-Newsagg-Delivery ids; the same delivery sent again is the
at-least-once promise kept, not a duplicate).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SEARCH_NAME = "every story of the site"


@dataclass(frozen=True)
class Post:
    """One POST as the receiver took it."""

    delivery: str
    event: str
    search_id: str
    article_ids: tuple[str, ...]
    signed: bool
    answered: int


@dataclass(frozen=True)
class DeliveryCount:
    """What the saved search was delivered, against what the index holds."""

    delivered: int
    lost: int
    duplicated: int
    unsigned: int
    """POSTs whose signature did not hold (or that were not for the saved search)."""
    resent: int = 0
    """POSTs of a delivery id posted before (a retry, or a resend after a restart): the
    at-least-once promise at work, not a fault."""

    @property
    def complete(self) -> bool:
        return self.lost == 0


class Receiver:
    """A webhook receiver on 127.0.0.1 that answers 200, or 500, or is not listening."""

    def __init__(self) -> None:
        self.port = 0
        self.search_id: str | None = None
        self.secret: str | None = None
        self.status = 200
        self.posts: list[Post] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        """Listen (again on the same port after `refuse`, so the saved webhook URL holds)."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    status = receiver.status
                    receiver.posts.append(receiver._post(dict(self.headers.items()), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def refuse(self) -> None:
        """Stop listening: every delivery attempt meets a refused connection."""
        self.stop()

    def answer(self, status: int) -> None:
        with self._lock:
            self.status = status

    def listening(self) -> bool:
        return self._server is not None

    def _post(self, headers: dict[str, str], body: bytes, status: int) -> Post:
        lower = {key.lower(): value for key, value in headers.items()}
        try:
            payload = json.loads(body)
            search_id = str(payload["id"])
            article_ids = tuple(str(article["id"]) for article in payload.get("articles", []))
        except (ValueError, KeyError, TypeError):
            search_id, article_ids = "", ()
        signed = False
        if self.secret is not None and search_id == self.search_id:
            expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            signed = hmac.compare_digest(expected, lower.get("x-newsagg-signature", ""))
        return Post(
            lower.get("x-newsagg-delivery", ""),
            lower.get("x-newsagg-event", ""),
            search_id,
            article_ids,
            signed,
            status,
        )

    def count(self, indexed_ids: frozenset[str]) -> DeliveryCount:
        """Deliveries of the saved search's matches against the articles the index holds."""
        with self._lock:
            posts = list(self.posts)
        matches = [p for p in posts if p.event == "matches" and p.search_id == self.search_id]
        accepted = {a for p in matches if 200 <= p.answered < 300 for a in p.article_ids}
        under: dict[str, set[str]] = {}
        for post in matches:  # any answer: an article sent under two ids was sent twice
            for article_id in post.article_ids:
                under.setdefault(article_id, set()).add(post.delivery)
        return DeliveryCount(
            delivered=len(accepted & indexed_ids),
            lost=len(indexed_ids - accepted),
            duplicated=sum(len(ids) - 1 for ids in under.values()),
            unsigned=sum(1 for p in posts if not p.signed),
            resent=len(matches) - len({p.delivery for p in matches}),
        )


def save_search(api: str, source: str, receiver: Receiver, timeout: float = 60.0) -> None:
    """Save, through the API, an instant search of every article of `source` delivered to
    the receiver; wait for the API to answer first. The receiver learns the search's id
    and secret from the answer (the only place the secret is shown)."""
    body = json.dumps(
        {
            "name": SEARCH_NAME,
            "sources": [source],
            "webhook_url": receiver.url,
            "schedule": "instant",
        }
    ).encode()
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        request = urllib.request.Request(
            f"{api}/v1/saved-searches",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                created = json.load(response)
        except urllib.error.HTTPError as exc:
            if exc.code < 500:  # refused for good: the harness's request is wrong
                raise RuntimeError(f"saving the search: {exc.code} {exc.read()!r}") from exc
            last = f"{exc.code}"
        except OSError as exc:  # the API is not listening yet
            last = str(exc)
        else:
            receiver.search_id, receiver.secret = created["id"], created["secret"]
            return
        time.sleep(0.2)
    raise RuntimeError(f"could not save the search through {api} in {timeout:.0f}s: {last}")
