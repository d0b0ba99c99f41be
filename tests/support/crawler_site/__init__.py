"""A small news site for the crawler's tests, with every discovery mode and every
kind of hostile response the crawler must survive (see docs/crawling.md).

Served in-process on 127.0.0.1, port 0; `CrawlerSite.requests` records what the
crawler asked for (path, status, conditional headers), so tests can check what was
*not* fetched as well as what was.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from support.crawler_site.pages import PAGES, Page

LAST_MODIFIED = "Sat, 12 Sep 2026 08:00:00 GMT"
STALL_SECONDS = 30.0
SLOW_SECONDS = 0.25
BOMB_BYTES = 20_000_000
"""Decompressed size of /hostile/bomb (about 20 KB on the wire)."""
HUGE_BYTES = 600_000
"""Size of /hostile/huge and /hostile/huge-stream; tests set NEWSAGG_MAX_PAGE_BYTES below it."""


@dataclass(frozen=True)
class Hit:
    path: str
    status: int
    if_none_match: str | None
    if_modified_since: str | None


class _Handler(BaseHTTPRequestHandler):
    site: CrawlerSite
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        special = {
            "/hostile/bomb": self._bomb,
            "/hostile/huge": self._huge,
            "/hostile/huge-stream": self._huge_stream,
            "/hostile/loop-a": lambda: self._redirect("/hostile/loop-b"),
            "/hostile/loop-b": lambda: self._redirect("/hostile/loop-a"),
            "/hostile/stall": self._stall,
            "/hostile/error": lambda: self._send(500, b"server error", "text/plain"),
        }
        if path in special:
            special[path]()
            return
        page = PAGES.get(path)
        if path.startswith("/slow/"):
            time.sleep(SLOW_SECONDS)
        if page is None:
            self._send(404, b"not found", "text/plain")
        else:
            self._page(page)

    def _page(self, page: Page) -> None:
        body = page.body.replace("__BASE__", self.site.url).encode()
        if not page.validators:
            self._send(200, body, page.content_type)
            return
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag or (
            self.headers.get("If-Modified-Since") == LAST_MODIFIED
            and not self.headers.get("If-None-Match")
        ):
            self._send(304, b"", page.content_type, {"ETag": etag})
            return
        self._send(200, body, page.content_type, {"ETag": etag, "Last-Modified": LAST_MODIFIED})

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self._record(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)

    def _redirect(self, to: str) -> None:
        self._send(302, b"", "text/plain", {"Location": to})

    def _bomb(self) -> None:
        body = gzip.compress(b"<html>" + b" " * BOMB_BYTES, compresslevel=9)
        self._send(200, body, "text/html", {"Content-Encoding": "gzip"})

    def _huge(self) -> None:
        self._send(200, b"<html>" + b"x" * HUGE_BYTES, "text/html")

    def _huge_stream(self) -> None:
        """No Content-Length: the size limit must trip while the body streams in."""
        self._record(200)
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            for _ in range(HUGE_BYTES // 10_000 + 1):
                self.wfile.write(b"x" * 10_000)
        except OSError:
            pass  # the crawler hung up, as it should

    def _stall(self) -> None:
        """Headers and a few bytes, then nothing until the site stops."""
        self._record(200)
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b"<html><body>")
        self.wfile.flush()
        self.site.stopping.wait(STALL_SECONDS)
        self.close_connection = True

    def _record(self, status: int) -> None:
        self.site.requests.append(
            Hit(
                urlsplit(self.path).path + ("?" + q if (q := urlsplit(self.path).query) else ""),
                status,
                self.headers.get("If-None-Match"),
                self.headers.get("If-Modified-Since"),
            )
        )

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read `requests`."""


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """The crawler hangs up on bombs and stalls on purpose: not worth a traceback."""


class CrawlerSite:
    """The test site on 127.0.0.1 (any free port), in a background thread."""

    def __init__(self) -> None:
        handler = type("CrawlerSiteHandler", (_Handler,), {"site": self})
        self.server = _QuietServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.requests: list[Hit] = []
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> CrawlerSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def hits(self, path: str) -> list[Hit]:
        return [hit for hit in self.requests if hit.path == path]
