"""Serve the bundled demo news sites (deploy/demo-site) on localhost.

The demo's fictional outlets (Marquee Daily and Reel News) are listed once, in the
manifest that deploy/demo-site/build.py writes beside the sites. Each is a static site
served on its own port, so each is its own host with its own robots.txt. Their feeds
and pages say `__BASE_URL__` where an absolute URL belongs; the server puts its own
address there, so a site works on any port.

The built sites and the manifest are package data (`newsagg/cli/demo_sites`, links to
deploy/demo-site in a checkout, copies in a wheel), found with importlib.resources, so
an installed newsagg serves them without the repository.

An article's id is a hash of its URL, port included, so `newsagg demo` keeps the ports it
picked in the data directory (`demo-sites.json`) and serves the outlets there again on the
next run: the same stories keep their ids and the index does not hold them twice.
"""

from __future__ import annotations

import errno
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from io import BytesIO
from pathlib import Path

DEMO_DIR = Path(str(resources.files("newsagg.cli") / "demo_sites"))
MANIFEST_PATH = DEMO_DIR / "manifest.json"
PLACEHOLDER = b"__BASE_URL__"


@dataclass(frozen=True)
class Outlet:
    """One demo outlet: the source name it is indexed under, its site and its listings."""

    source: str
    name: str
    site_dir: Path
    feed: str
    sitemap: str


def page_text(site_dir: Path, path: str, base_url: str) -> str:
    """A demo page as the server sends it from `base_url`: what tests and benches extract
    without serving it."""
    return (site_dir / path).read_bytes().replace(PLACEHOLDER, base_url.encode()).decode()


def read_outlets(manifest_path: Path = MANIFEST_PATH) -> tuple[Outlet, ...]:
    """The outlets the manifest lists, in its order (the first has the crawler's bad inputs)."""
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    return tuple(
        Outlet(
            source,
            built["site_name"],
            manifest_path.parent / built["site_dir"],
            built["crawl"]["feed"],
            built["crawl"]["sitemap"],
        )
        for source, built in manifest["outlets"].items()
    )


OUTLETS = read_outlets()
MARQUEE_DAILY = OUTLETS[0]
SITE_DIR = MARQUEE_DAILY.site_dir
PORTS_FILE = "demo-sites.json"


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
    """One outlet's site on 127.0.0.1:port (0 = any free port), in a background thread.

    `site_dir` serves another directory (a test's own pages) under the outlet's name.
    """

    def __init__(
        self, port: int = 0, site_dir: Path | None = None, outlet: Outlet = MARQUEE_DAILY
    ) -> None:
        site_dir = site_dir or outlet.site_dir
        if not site_dir.is_dir():
            raise FileNotFoundError(f"demo site not found at {site_dir}")
        self.outlet = outlet
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
        if self._thread.is_alive():
            self.server.shutdown()
        self.server.server_close()

    def source_entry(self, interval: float = 60.0) -> str:
        """This site as one entry of a sources.yaml `sources:` list."""
        return (
            f"  - name: {self.outlet.source}\n"
            f"    feeds: [{self.url}/{self.outlet.feed}]\n"
            f"    sitemaps: [{self.url}/{self.outlet.sitemap}]\n"
            f"    interval: {interval}\n"
            "    allow_private: true\n"  # the demo sites are on localhost
        )


class DemoSites:
    """Every demo outlet, each on its own port: from `first_port` on, or the given `ports`
    (by source name), or any free ports."""

    def __init__(
        self,
        first_port: int = 0,
        outlets: Sequence[Outlet] = OUTLETS,
        ports: Mapping[str, int] | None = None,
    ) -> None:
        ports = ports or {}
        self.sites: list[DemoSite] = []
        try:
            for i, outlet in enumerate(outlets):
                port = first_port + i if first_port else ports.get(outlet.source, 0)
                self.sites.append(DemoSite(port, outlet=outlet))
        except BaseException:
            self.stop()
            raise

    @classmethod
    def kept_in(cls, data_dir: Path, first_port: int = 0) -> DemoSites:
        """The outlets on the ports that `data_dir`'s index knows them by, picked and kept
        there on the first run; `first_port` (given by the user) chooses new ones."""
        path = data_dir / PORTS_FILE
        known = {} if first_port else read_ports(path)
        try:
            sites = cls(first_port, ports=known)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise ValueError(
                f"a demo site's port is taken ({exc}); the index in {data_dir} knows the demo "
                f"sites on ports {known or first_port}: stop what uses the port, or give this "
                "demo another NEWSAGG_DATA_DIR"
            ) from exc
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(sites.ports, indent=2) + "\n", encoding="utf-8")
        return sites

    @property
    def ports(self) -> dict[str, int]:
        return {site.outlet.source: site.server.server_port for site in self.sites}

    @property
    def url(self) -> str:
        """Marquee Daily's address (the site with the crawler's bad inputs)."""
        return self.sites[0].url

    def start(self) -> DemoSites:
        for site in self.sites:
            site.start()
        return self

    def stop(self) -> None:
        for site in self.sites:
            site.stop()

    def sources_yaml(self, interval: float = 60.0) -> str:
        """A sources.yaml that crawls every outlet."""
        return "sources:\n" + "".join(site.source_entry(interval) for site in self.sites)


def read_ports(path: Path) -> dict[str, int]:
    """The kept ports by source name; none before the first run. A damaged file is an
    error that says what to do, never a silent new port (which would double the index)."""
    if not path.exists():
        return {}
    try:
        ports = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} cannot be read ({exc}): {_REPAIR}") from exc
    if not isinstance(ports, dict) or not all(
        isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536
        for port in ports.values()
    ):
        raise ValueError(f"{path} is not a map of source names to ports: {_REPAIR}")
    return ports


_REPAIR = (
    "put back the ports the demo sites had (their addresses are in demo-sources.yaml beside "
    "it), or delete the data directory for a fresh demo"
)
