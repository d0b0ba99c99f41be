"""Freshness: how long until a new article is searchable, through the real processes.

.venv/bin/python bench/freshness.py [--quick] [--articles N] [--interval S]

Starts `newsagg crawl`, `newsagg index` and `newsagg api` on the embedded defaults (SQLite
bus, tantivy index) over a fresh data directory, against a local news site that publishes
new stories (real article bodies from bench/data) while they run. The site and a real
WebSub hub share one origin on 127.0.0.1 (tests/support/websub_hub.py): source `polled`
has a plain RSS feed the crawler reads every --interval seconds; source `pushed` names
the hub in its feed (<atom:link rel="hub">), so a crawler with WebSub on is told.

Three latencies per new story, each ending when the API's search first finds the story's
unique word (asked every 50 ms):
- fetched -> searchable: from the site sending the article page (both sources);
- feed updated -> searchable: from the story entering `polled`'s feed (polling);
- hub notified -> searchable: from the hub POSTing `pushed`'s feed to the crawler.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import format_datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from _report import report, target  # noqa: E402
from support.websub_hub import WebSubHub  # noqa: E402

from reliability.site import Story, _article_page, load_stories  # noqa: E402

DATA = ROOT / "bench" / "data" / "article-extraction-benchmark"
FETCHED_GOAL = 1.0
NOTIFIED_GOAL = 2.0
PROBE_EVERY = 0.05
SPACING = 1.3
"""Mean seconds between two new stories of a source (each 0.6-1.4 times it, at random, so
the polled ones land at every phase of the poll interval)."""


@dataclass
class Tracked:
    """One new story and the moments it passed through."""

    source: str
    story: Story
    word: str
    listed_at: float
    fetched_at: float | None = None
    notified_at: float | None = None
    searchable_at: float | None = None


@dataclass
class Newsroom:
    """The two sources' feeds and pages on the hub's origin, and what was published when."""

    hub: WebSubHub
    stories: list[Story]
    listed: dict[str, list[Story]] = field(default_factory=lambda: {"polled": [], "pushed": []})
    tracked: dict[str, Tracked] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def feed_url(self, source: str) -> str:
        return f"{self.hub.url}/{source}/feed.xml"

    def sources_yaml(self, interval: float) -> str:
        entries = "".join(
            f"  - name: {source}\n    feeds: [{self.feed_url(source)}]\n"
            f"    allow_private: true\n    interval: {every:g}\n"
            for source, every in (("polled", interval), ("pushed", 3600))
        )
        return f"sources:\n{entries}"

    def _feed(self, source: str) -> str:
        base = self.hub.url
        links = (
            f'<atom:link rel="hub" href="{self.hub.hub_url}"/>'
            f'<atom:link rel="self" href="{self.feed_url(source)}"/>'
            if source == "pushed"
            else ""
        )
        items = "".join(
            f"<item><title>{html.escape(s.title)}</title><link>{base}/{source}{s.path}</link>"
            f"<guid>{base}/{source}{s.path}</guid>"
            f"<pubDate>{format_datetime(s.published, usegmt=True)}</pubDate></item>"
            for s in reversed(self.listed[source])
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
            f"<title>{source}</title><link>{base}/{source}/</link>{links}{items}"
            "</channel></rss>"
        )

    def add(self, source: str, *, track: bool) -> Tracked | None:
        """Put the next story on the site and in the source's feed; ping the hub for `pushed`."""
        with self.lock:
            story = self.stories.pop(0)
            word = f"fresh{random.randrange(16**8):08x}"
            story = Story(story.slug, f"{story.title} {word}", story.body, story.published)
            page = _article_page(story, f"{self.hub.url}/{source}")
            self.hub.put(f"/{source}{story.path}", page, "text/html; charset=utf-8")
            self.listed[source].append(story)
            self.hub.put(f"/{source}/feed.xml", self._feed(source), "application/rss+xml")
            tracked = Tracked(source, story, word, time.time()) if track else None
            if tracked is not None:
                self.tracked[f"/{source}{story.path}"] = tracked
        if source == "pushed":
            self.hub.ping(self.feed_url(source))
        return tracked


def _fresh_stories(count: int) -> list[Story]:
    """Real bodies, republished as today's news (the crawler keeps no max age, but a
    reader of the index would)."""
    now = time.time()
    stories = load_stories(count, DATA)
    return [
        Story(s.slug, s.title, s.body, s.published.fromtimestamp(now - 60 + i, s.published.tzinfo))
        for i, s in enumerate(stories)
    ]


def _watch_fetches(room: Newsroom) -> Callable[[str], None]:
    """The moment the site sends a tracked article page (first send counts)."""

    def seen(path: str) -> None:
        tracked = room.tracked.get(path)
        if tracked is not None and tracked.fetched_at is None:
            tracked.fetched_at = time.time()

    return seen


def _searchable(api: str, word: str) -> bool:
    query = urllib.parse.urlencode({"q": word, "size": 1, "facets": ""})
    try:
        with urllib.request.urlopen(f"{api}/v1/search?{query}", timeout=5) as response:
            return bool(json.load(response).get("hits"))
    except (OSError, ValueError):
        return False


def _probe(api: str, room: Newsroom, stop: threading.Event) -> None:
    while not stop.is_set():
        for tracked in list(room.tracked.values()):
            if tracked.searchable_at is None and _searchable(api, tracked.word):
                tracked.searchable_at = time.time()
        stop.wait(PROBE_EVERY)


def _notified_moments(hub: WebSubHub, room: Newsroom) -> None:
    """Each pushed story's notification: the first `notified` event after it was listed."""
    notices = sorted(e.at for e in hub.events if e.kind == "notified")
    for tracked in room.tracked.values():
        if tracked.source == "pushed":
            tracked.notified_at = next((at for at in notices if at >= tracked.listed_at), None)


def _percentiles(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    if len(values) == 1:
        return values[0], values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return statistics.median(values), cuts[94]


def _start(command: str, env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    out = (logs / f"{command}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "newsagg.cli.main", command],
        env={**os.environ, **env},
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(probe: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")


def run(articles: int, interval: float, keep: bool, websub: bool = True) -> dict[str, Any]:
    hub = WebSubHub().start()
    room = Newsroom(hub, _fresh_stories(articles * 2 + 2))
    hub.on_get = _watch_fetches(room)
    hub.put("/robots.txt", "User-agent: *\nAllow: /\n", "text/plain")
    room.add("polled", track=False)
    room.add("pushed", track=False)
    work = Path(tempfile.mkdtemp(prefix="newsagg-freshness-"))
    api_port, callback_port = _free_port(), _free_port()
    (work / "sources.yaml").write_text(room.sources_yaml(interval))
    env = {
        "NEWSAGG_DATA_DIR": str(work / "data"),
        "NEWSAGG_SOURCES": str(work / "sources.yaml"),
        "NEWSAGG_API_PORT": str(api_port),
        "NEWSAGG_CRAWLER_METRICS_PORT": "0",
        "NEWSAGG_INDEXER_METRICS_PORT": "0",
    }
    if websub:
        env["NEWSAGG_WEBSUB_PORT"] = str(callback_port)
        env["NEWSAGG_WEBSUB_CALLBACK_URL"] = f"http://127.0.0.1:{callback_port}"
    api = f"http://127.0.0.1:{api_port}"
    began = time.monotonic()
    processes = [_start(name, env, work) for name in ("index", "api", "crawl")]
    stop = threading.Event()
    try:
        _wait(lambda: _searchable(api, "Story"), 120, "the first stories searchable")
        print(f"started in {time.monotonic() - began:.1f}s", file=sys.stderr)
        if websub:
            hub.wait_for("verified", topic=room.feed_url("pushed"), timeout=60)
        prober = threading.Thread(target=_probe, args=(api, room, stop), daemon=True)
        prober.start()
        spacing = SPACING
        for _ in range(articles):
            room.add("polled", track=True)
            if websub:
                room.add("pushed", track=True)
            time.sleep(spacing * random.uniform(0.6, 1.4))
        try:
            _wait(lambda: all(t.searchable_at for t in room.tracked.values()), interval + 30, "")
        except RuntimeError:
            missing = [
                f"{t.source}{t.story.path} ({t.word}, fetched: {t.fetched_at is not None})"
                for t in room.tracked.values()
                if t.searchable_at is None
            ]
            raise RuntimeError(f"never searchable, logs in {work}: {missing}") from None
        print(f"measured in {time.monotonic() - began:.1f}s", file=sys.stderr)
    finally:
        stop.set()
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        hub.stop()
        print(f"stopped in {time.monotonic() - began:.1f}s", file=sys.stderr)
        if keep or any(t.searchable_at is None for t in room.tracked.values()):
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    _notified_moments(hub, room)
    done = list(room.tracked.values())
    fetched = [t.searchable_at - t.fetched_at for t in done if t.searchable_at and t.fetched_at]
    listed = [
        t.searchable_at - t.listed_at for t in done if t.source == "polled" and t.searchable_at
    ]
    notified = [t.searchable_at - t.notified_at for t in done if t.notified_at and t.searchable_at]
    by_source = {
        f"fetched_{source}": [
            t.searchable_at - t.fetched_at
            for t in done
            if t.source == source and t.searchable_at and t.fetched_at
        ]
        for source in ("pushed", "polled")
    }
    return {"fetched": fetched, **by_source, "listed": listed, "notified": notified}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 stories per source, 10 s polls")
    parser.add_argument("--articles", type=int, help="new stories per source (default 30)")
    parser.add_argument("--interval", type=float, default=10.0, help="polled source's interval")
    parser.add_argument("--keep", action="store_true", help="keep the data dir and the logs")
    parser.add_argument(
        "--no-websub",
        action="store_true",
        help="polling only (WebSub off): to measure a crawler from before WebSub",
    )
    args = parser.parse_args()
    articles = args.articles or (3 if args.quick else 30)
    measured = run(articles, args.interval, args.keep, websub=not args.no_websub)
    rows, targets = [], []
    goals: dict[str, tuple[str, float | None]] = {
        "fetched": ("fetched -> searchable", FETCHED_GOAL),
        "fetched_pushed": ("  of which told by the hub (one story a pass)", None),
        "fetched_polled": ("  of which polled (the stories of an interval at once)", None),
        "listed": (
            f"feed updated -> searchable (polled every {args.interval:g} s)",
            args.interval + 1.0,
        ),
        "notified": ("hub notified -> searchable (WebSub)", NOTIFIED_GOAL),
    }
    for key, (stage, goal) in goals.items():
        values = measured[key]
        p50, p95 = _percentiles(values)
        rows.append(
            {
                "latency": stage,
                "n": len(values),
                "p50_s": p50,
                "p95_s": p95,
                "max_s": max(values, default=float("nan")),
            }
        )
        if goal is None:
            continue
        targets.append(
            target(
                f"{stage} p95 (s)",
                p95,
                f"< {goal:g}",
                newsagg=f"p50 {p50:.2f} s, p95 {p95:.2f} s (n={len(values)})",
            )
        )
    params = {
        "articles": articles,
        "interval_s": args.interval,
        "quick": args.quick,
        "websub": not args.no_websub,
    }
    report("freshness", rows, params, targets=targets)


if __name__ == "__main__":
    main()
