"""Serve the bundled demo news site (deploy/demo-site/site) on localhost.

Its feeds and pages say `__BASE_URL__` where an absolute URL belongs; the server
puts its own address there, so the site works on any port.
"""

from __future__ import annotations

import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path

SITE_DIR = Path(__file__).resolve().parents[3] / "deploy" / "demo-site" / "site"
PLACEHOLDER = b"__BASE_URL__"


class _Handler(SimpleHTTPRequestHandler):
    base_url = ""

    def send_head(self):  # type: ignore[no-untyped-def]
        path = Path(self.translate_path(self.path))
        if path.is_file() and path.suffix in {".html", ".xml", ".txt"}:
            body = path.read_bytes().replace(PLACEHOLDER, self.base_url.encode())
            self.send_response(200)
            self.send_header("Content-Type", self.guess_type(str(path)))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return BytesIO(body)
        return super().send_head()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the crawler logs what it fetched."""


class DemoSite:
    """The demo site on 127.0.0.1:port (0 = any free port), in a background thread."""

    def __init__(self, port: int = 0, site_dir: Path = SITE_DIR) -> None:
        if not (site_dir / "rss.xml").is_file():
            raise FileNotFoundError(f"demo site not found at {site_dir}")
        handler = type("DemoHandler", (_Handler,), {})
        self.server = ThreadingHTTPServer(
            ("127.0.0.1", port), partial(handler, directory=str(site_dir))
        )
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        handler.base_url = self.url
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> DemoSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def sources_yaml(self, interval: float = 60.0) -> str:
        return (
            "sources:\n"
            "  - name: marquee-daily\n"
            f"    feeds: [{self.url}/rss.xml]\n"
            f"    sitemaps: [{self.url}/sitemap.xml]\n"
            f"    interval: {interval}\n"
            "    allow_private: true\n"  # the demo site is on localhost
        )
