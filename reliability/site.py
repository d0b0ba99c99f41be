"""A generated local news site whose stories are real articles, for fault runs.

The bodies (and so the extraction work) come from the hand-checked article bodies of
the article-extraction-benchmark in bench/data; the pages around them are ours,
so every story has one known address and the harness knows exactly what to expect.
The server sends ETag and Last-Modified on the feed, the sitemap and every page and
answers 304 to a matching If-None-Match / If-Modified-Since, as real news sites do:
that is the path where a restarted crawler can skip what it never finished.
"""

from __future__ import annotations

import hashlib
import html
import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

BENCHMARK = Path(__file__).resolve().parents[1] / "bench/data/article-extraction-benchmark"
"""The repository's copy (MIT licence beside it), so no run depends on ../shared."""
MIN_WORDS = 150
FIRST_PUBLISHED = datetime(2026, 9, 1, 6, 0, tzinfo=UTC)
SOURCE = "reliability-news"


class MissingBenchmark(RuntimeError):
    """The real-page bodies are not beside the clone."""


@dataclass(frozen=True)
class Story:
    slug: str
    title: str
    body: str
    published: datetime

    @property
    def path(self) -> str:
        return f"/articles/{self.slug}.html"


def load_stories(count: int, data: Path = BENCHMARK) -> list[Story]:
    """`count` stories from the benchmark's longer English-script bodies, in id order."""
    truth_file = data / "ground-truth.json"
    if not truth_file.is_file():
        raise MissingBenchmark(f"no article bodies at {truth_file}")
    truth = json.loads(truth_file.read_text(encoding="utf-8"))
    stories: list[Story] = []
    for page_id in sorted(truth):
        body = truth[page_id]["articleBody"].strip()
        words = body.split()
        if len(words) < MIN_WORDS or not words[0].isascii():
            continue
        number = len(stories)
        title = f"Story {number + 1}: " + " ".join(words[:8]).rstrip(".,;:")
        published = FIRST_PUBLISHED + timedelta(hours=number)
        stories.append(Story(f"story-{number + 1:03d}-{page_id[:8]}", title, body, published))
        if len(stories) == count:
            return stories
    raise MissingBenchmark(f"only {len(stories)} bodies of {MIN_WORDS}+ words in {data}")


def _http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def _article_page(story: Story, base: str) -> str:
    paragraphs = "".join(
        f"<p>{html.escape(line.strip())}</p>\n" for line in story.body.splitlines() if line.strip()
    )
    meta = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": story.title,
            "datePublished": story.published.isoformat(),
            "author": {"@type": "Person", "name": "Reliability Desk"},
        }
    )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(story.title)}</title>"
        f'<link rel="canonical" href="{base}{story.path}">'
        f'<script type="application/ld+json">{meta}</script></head>'
        f"<body><header><nav><a href='/'>Reliability News</a></nav></header>"
        f"<main><article><h1>{html.escape(story.title)}</h1>"
        f'<p class="byline">By Reliability Desk, '
        f'<time datetime="{story.published.isoformat()}">{story.published:%d %B %Y}</time></p>'
        f"{paragraphs}</article></main><footer>Reliability News</footer></body></html>"
    )


def _feed(stories: list[Story], base: str) -> str:
    items = "".join(
        f"<item><title>{html.escape(s.title)}</title><link>{base}{s.path}</link>"
        f"<guid>{base}{s.path}</guid><pubDate>{_http_date(s.published)}</pubDate></item>"
        for s in stories
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Reliability News</title><link>{base}/</link>{items}</channel></rss>"
    )


def _sitemap(stories: list[Story], base: str) -> str:
    urls = "".join(
        f"<url><loc>{base}{s.path}</loc><lastmod>{s.published.isoformat()}</lastmod></url>"
        for s in stories
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    )


@dataclass(frozen=True)
class Resource:
    body: bytes
    content_type: str
    last_modified: datetime

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:20] + '"'

    def not_modified(self, if_none_match: str | None, if_modified_since: str | None) -> bool:
        """RFC 9110: If-None-Match decides when present; otherwise If-Modified-Since."""
        if if_none_match is not None:
            return self.etag in {tag.strip() for tag in if_none_match.split(",")}
        if if_modified_since is None:
            return False
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        return self.last_modified.replace(microsecond=0) <= since


class _Handler(BaseHTTPRequestHandler):
    site: NewsSite
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        resource = self.site.resource(path)
        if resource is None:
            self._send(404, {"Content-Type": "text/plain"}, b"not found")
            return
        if path.startswith("/articles/") and self.site.delay:
            time.sleep(self.site.delay)
        headers = {
            "Content-Type": resource.content_type,
            "ETag": resource.etag,
            "Last-Modified": _http_date(resource.last_modified),
        }
        if resource.not_modified(
            self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
        ):
            self.site.count(path, 304)
            self._send(304, headers, b"")
        else:
            self.site.count(path, 200)
            self._send(200, headers, resource.body)

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the harness reads `served`."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A crawler killed mid-request hangs up on us: that is the point, not an error."""


class NewsSite:
    """The site on 127.0.0.1 (a free port) in a background thread.

    `delay` slows every article page, so a crawl lasts long enough for a fault to
    land in the middle of it.
    """

    def __init__(self, stories: list[Story], delay: float = 0.0, source: str = SOURCE) -> None:
        self.stories = stories
        self.delay = delay
        self.source = source
        handler = type("NewsSiteHandler", (_Handler,), {"site": self})
        self.server = _Server(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._lock = threading.Lock()
        self.served: dict[tuple[str, int], int] = {}
        newest = max(s.published for s in stories)
        self._resources: dict[str, Resource] = {
            "/robots.txt": Resource(b"User-agent: *\nAllow: /\n", "text/plain", FIRST_PUBLISHED),
            "/feed.xml": Resource(_feed(stories, self.url).encode(), "application/rss+xml", newest),
            "/sitemap.xml": Resource(
                _sitemap(stories, self.url).encode(), "application/xml", newest
            ),
        }
        for story in stories:
            page = _article_page(story, self.url).encode()
            self._resources[story.path] = Resource(
                page, "text/html; charset=utf-8", story.published
            )
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def expected_urls(self) -> set[str]:
        return {self.url + story.path for story in self.stories}

    def articles_served(self) -> int:
        """Article pages sent in full so far."""
        with self._lock:
            return sum(
                n
                for (path, status), n in self.served.items()
                if status == 200 and path.startswith("/articles/")
            )

    def resource(self, path: str) -> Resource | None:
        return self._resources.get(path)

    def count(self, path: str, status: int) -> None:
        with self._lock:
            self.served[(path, status)] = self.served.get((path, status), 0) + 1

    def sources_yaml(self, interval: float = 10.0) -> str:
        return (
            "sources:\n"
            f"  - name: {self.source}\n"
            f"    feeds: [{self.url}/feed.xml]\n"
            f"    sitemaps: [{self.url}/sitemap.xml]\n"
            "    allow_private: true\n"
            f"    interval: {interval:g}\n"
        )

    def start(self) -> NewsSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
