"""A local news site for the crawl benchmark: the 121 real pages of the
article-extraction-benchmark copied under distinct URLs, listed by RSS feeds and news
sitemaps of several sources, served by Debian's nginx on loopback.

Each source is its own host (127.0.0.1, 127.0.0.2, ...: all loopback on Linux, one
nginx `listen` each), so a crawler keeps one politeness slot per source as it would on
the web. An article's id is the hash of its canonical URL, and the copies' own
rel=canonical (the original publisher's) is not trusted off its site, so every copy is
its own article; the copy's URL is also written into the page (a `<meta>` line and the
title's end) so that bodies differ too.

`build_site` writes files only; `serve` runs nginx over them.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

DATA = Path(__file__).parent / "data" / "article-extraction-benchmark"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
_HEAD = re.compile(rb"<head[^>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class Original:
    """One page of the benchmark: its key, original URL, HTML bytes and expected body."""

    key: str
    url: str
    html: bytes
    body: str


@dataclass(frozen=True)
class SitePage:
    url: str
    source: str
    key: str
    """The benchmark page it copies (its ground truth)."""
    path: Path
    """The file nginx serves for it."""


@dataclass(frozen=True)
class Site:
    root: Path
    port: int
    sources: dict[str, str]
    """Source name -> its homepage URL (its host)."""
    feeds: dict[str, list[str]]
    sitemaps: dict[str, list[str]]
    pages: list[SitePage]

    def sources_yaml(self) -> str:
        """newsagg's sources file for the site: every feed and sitemap, private allowed."""
        lines = ["sources:"]
        for name in self.sources:
            lines.append(f"  - name: {name}")
            if self.feeds[name]:
                lines.append(f"    feeds: [{', '.join(self.feeds[name])}]")
            if self.sitemaps[name]:
                lines.append(f"    sitemaps: [{', '.join(self.sitemaps[name])}]")
            lines.append("    allow_private: true")
            lines.append("    interval: 600")
        return "\n".join(lines) + "\n"

    def truth(self) -> dict[str, str]:
        """Site URL -> benchmark key."""
        return {page.url: page.key for page in self.pages}


def originals(data: Path = DATA) -> list[Original]:
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    return [
        Original(
            key,
            entry["url"],
            gzip.decompress((data / "html" / f"{key}.html.gz").read_bytes()),
            entry["articleBody"],
        )
        for key, entry in sorted(truth.items())
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def host(index: int) -> str:
    """The loopback address of source `index` (127.0.0.1 upwards)."""
    return f"127.0.0.{index + 1}"


def copy_of(original: bytes, url: str, copy: int) -> bytes:
    """The page with its copy's address stated in its head, so copies' bytes differ."""
    stamp = f'<meta name="newsagg-bench-copy" content="{copy} {escape(url)}">'.encode()
    match = _HEAD.search(original)
    if match is None:
        return stamp + original
    return original[: match.end()] + stamp + original[match.end() :]


def _rss(title: str, home: str, items: list[tuple[SitePage, str, datetime]]) -> str:
    entries = "".join(
        f"<item><title>{escape(name)}</title><link>{escape(page.url)}</link>"
        f"<guid>{escape(page.url)}</guid><pubDate>{format_datetime(when)}</pubDate></item>"
        for page, name, when in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>{escape(home)}</link>"
        f"<description>{escape(title)}</description>{entries}</channel></rss>"
    )


def _news_sitemap(name: str, items: list[tuple[SitePage, str, datetime]]) -> str:
    entries = "".join(
        f"<url><loc>{escape(page.url)}</loc><news:news><news:publication>"
        f"<news:name>{escape(name)}</news:name><news:language>en</news:language>"
        f"</news:publication><news:publication_date>{when.isoformat()}</news:publication_date>"
        f"<news:title>{escape(title)}</news:title></news:news></url>"
        for page, title, when in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
        f"{entries}</urlset>"
    )


def build_site(
    root: Path,
    n: int,
    *,
    sources: int = 8,
    port: int | None = None,
    data: Path = DATA,
    now: datetime | None = None,
) -> Site:
    """Write `n` article pages (copies of the benchmark's, round robin) for `sources`
    sources under `root`, each source with a homepage, an RSS feed and a news sitemap."""
    if n < 1 or sources < 1:
        raise ValueError("a site needs at least one page and one source")
    port = port or free_port()
    now = now or datetime.now(UTC)
    pages_in = originals(data)
    titles = {page.key: page.body.split(".")[0][:90] or page.key for page in pages_in}
    www = root / "www"
    if www.exists():
        shutil.rmtree(www)
    names = [f"bench-{index:02d}" for index in range(sources)]
    homes = {name: f"http://{host(index)}:{port}/" for index, name in enumerate(names)}
    listed: dict[str, list[tuple[SitePage, str, datetime]]] = {name: [] for name in names}
    pages: list[SitePage] = []
    for number in range(n):
        original = pages_in[number % len(pages_in)]
        copy = number // len(pages_in)
        index = number % sources
        name = names[index]
        relative = f"news/{copy:03d}/{original.key[:16]}.html"
        path = www / host(index) / relative
        url = homes[name] + relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(copy_of(original.html, url, copy))
        page = SitePage(url, name, original.key, path)
        pages.append(page)
        when = now - timedelta(minutes=number)
        listed[name].append((page, f"{titles[original.key]} ({copy})", when))
    feeds: dict[str, list[str]] = {}
    sitemaps: dict[str, list[str]] = {}
    for index, name in enumerate(names):
        base = www / host(index)
        base.mkdir(parents=True, exist_ok=True)
        home = homes[name]
        (base / "rss.xml").write_text(_rss(name, home, listed[name]), encoding="utf-8")
        (base / "news-sitemap.xml").write_text(_news_sitemap(name, listed[name]), encoding="utf-8")
        # every source has both listings; newsagg is given the feed of even-numbered
        # sources and the sitemap of odd-numbered ones, so both kinds are crawled
        feeds[name] = [home + "rss.xml"] if index % 2 == 0 else []
        sitemaps[name] = [] if index % 2 == 0 else [home + "news-sitemap.xml"]
        (base / "robots.txt").write_text(
            f"User-agent: *\nAllow: /\nSitemap: {home}news-sitemap.xml\n", encoding="utf-8"
        )
        alternate = '<link rel="alternate" type="application/rss+xml" href="/rss.xml">'
        links = "".join(
            f'<li><a href="{escape(page.url)}">{escape(title)}</a></li>'
            for page, title, _ in listed[name]
        )
        (base / "index.html").write_text(
            f"<!doctype html><html><head><title>{name}</title>{alternate}</head>"
            f"<body><h1>{name}</h1><ul>{links}</ul></body></html>",
            encoding="utf-8",
        )
    return Site(root, port, homes, feeds, sitemaps, pages)


def nginx_conf(site: Site) -> str:
    """One server per source host, each serving its own directory; logs off (their
    writes are not what is measured)."""
    servers = "".join(
        f"  server {{ listen {host(index)}:{site.port}; root {site.root / 'www' / host(index)};"
        f" types {{ text/html html; application/rss+xml rss.xml; application/xml xml;"
        f" text/plain txt; }} }}\n"
        for index in range(len(site.sources))
    )
    return (
        "worker_processes 1;\npid nginx.pid;\nerror_log stderr error;\n"
        "events { worker_connections 1024; }\n"
        "http {\n  access_log off;\n  sendfile on;\n  keepalive_requests 100000;\n"
        f"  client_body_temp_path {site.root}/tmp;\n  proxy_temp_path {site.root}/tmp;\n"
        f"  fastcgi_temp_path {site.root}/tmp;\n  uwsgi_temp_path {site.root}/tmp;\n"
        f"  scgi_temp_path {site.root}/tmp;\n{servers}}}\n"
    )


@contextmanager
def serve(site: Site, timeout: float = 20) -> Iterator[subprocess.Popen[bytes]]:
    """nginx over the site until the block ends; fails loudly if nginx is missing."""
    if not Path(NGINX).exists():
        raise RuntimeError(f"nginx not found at {NGINX}: run `make nginx` first")
    (site.root / "tmp").mkdir(parents=True, exist_ok=True)
    conf = site.root / "nginx.conf"
    conf.write_text(nginx_conf(site))
    nginx = subprocess.Popen([NGINX, "-p", str(site.root), "-c", str(conf), "-g", "daemon off;"])
    try:
        deadline = time.monotonic() + timeout
        for index in range(len(site.sources)):
            while True:
                if nginx.poll() is not None:
                    raise RuntimeError(f"nginx exited with {nginx.returncode}")
                try:
                    socket.create_connection((host(index), site.port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        yield nginx
    finally:
        nginx.terminate()
        nginx.wait(timeout=20)
