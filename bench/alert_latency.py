"""Alert latency: from an article being searchable to its saved search's webhook receiving it.

.venv/bin/python bench/alert_latency.py [--quick] [--articles N] [--rate R] [--searches S]

Starts `newsagg index`, `newsagg api` and `newsagg alerts` on the embedded defaults (SQLite
bus, tantivy index, SQLite alert store) over a fresh data directory, with a webhook receiver
on 127.0.0.1 that checks every delivery's HMAC signature. Through the API it saves one
search for a word the new articles carry (instant delivery to the receiver), and S others
(10,000 by default, the issue's figure) of bench/alerts.py's realistic mix (names,
phrases, ORs, exclusions, filters) over the published articles' words, written to the
alert store without a channel: the worker matches every batch against all of them and
records their matches, as it would for feed-only searches. Then it publishes
articles to the bus at a steady rate, as the crawler does: generated from the real
benchmark bodies (bench/corpus.py), published now, each with the marker word.

Per article, three moments: published (put on the bus), searchable (the API's search for
the marker first returns it; one search every PROBE_EVERY s, sorted by date) and delivered
(the receiver got a signed `matches` delivery naming it). The target (issue 19) is
searchable -> delivered p95 < 5 s. The alerts worker reads the store itself, so it may
deliver before the API's searcher has reloaded: such an article counts a negative latency.
Also reported: articles delivered twice (under two delivery ids; must be 0), bad signatures
(must be 0) and the alerts worker's peak RSS.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
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
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench")]

from _report import report, target  # noqa: E402
from alerts import Vocabulary, saved_searches  # noqa: E402
from corpus import generated_articles  # noqa: E402
from newsagg.core.adapters import open_bus  # noqa: E402
from newsagg.core.adapters.sqlite_alerts import SqliteAlertStore  # noqa: E402
from newsagg.core.article import Article, DateSource  # noqa: E402
from newsagg.core.ports import ARTICLES_TOPIC  # noqa: E402

MARKER = "alertbenchmarker"
GOAL_P95 = 5.0
PROBE_EVERY = 0.1
WARMUP_TIMEOUT = 90.0
DRAIN_TIMEOUT = 60.0
VOCABULARY_ARTICLES = 4_000
"""bench/alerts.py's --history: the articles the other searches' words come from."""


@dataclass
class Tracked:
    article_id: str
    published_at: float
    searchable_at: float | None = None
    delivered_at: float | None = None


@dataclass
class Receiver:
    """The webhook's receiving end: checks each signature, notes each article's first arrival
    and every delivery id an article came under."""

    secrets: dict[str, bytes] = field(default_factory=dict)
    arrivals: dict[str, float] = field(default_factory=dict)
    deliveries: dict[str, set[str]] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, body: bytes, headers: Any) -> int:
        at = time.time()
        try:
            payload = json.loads(body)
        except ValueError:
            return 400
        secret = self.secrets.get(payload.get("id", ""))
        signature = headers.get("X-Newsagg-Signature", "")
        expected = "sha256=" + hmac.new(secret or b"", body, hashlib.sha256).hexdigest()
        with self.lock:
            if secret is None or not hmac.compare_digest(signature, expected):
                self.bad_signatures += 1
                return 401
            event = payload.get("event", "")
            self.events[event] = self.events.get(event, 0) + 1
            if event != "matches":
                return 200
            delivery = headers.get("X-Newsagg-Delivery", "")
            for article in payload.get("articles", []):
                self.arrivals.setdefault(article["id"], at)
                self.deliveries.setdefault(article["id"], set()).add(delivery)
        return 200

    def serve(self) -> ThreadingHTTPServer:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(receiver.take(body, self.headers))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(command: str, env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    out = (logs / f"{command}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "newsagg.cli.main", command],
        env={**os.environ, **env},
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def _wait(probe: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")


def _request(url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except (OSError, ValueError) as exc:
        return 0, str(exc)


def _save_searches(api: str, hook: str, receiver: Receiver) -> None:
    """The measured search: the marker, instant, through the API."""
    status, body = _request(
        f"{api}/v1/saved-searches", {"name": "bench marker", "q": MARKER, "webhook_url": hook}
    )
    if status != 201:
        raise RuntimeError(f"saving the marker search: {status} {body}")
    receiver.secrets[body["id"]] = body["secret"].encode()


def _save_others(path: Path, count: int) -> None:
    """`count` searches of bench/alerts.py's mix, drawn as it draws them (from the words of
    VOCABULARY_ARTICLES generated articles), without a channel."""
    store = SqliteAlertStore(path)
    try:
        store.ensure_schema()
        history = list(generated_articles(VOCABULARY_ARTICLES))
        for search in saved_searches(count, Vocabulary(history)):
            store.create(search)
    finally:
        store.close()


def _articles(count: int) -> list[Article]:
    """Distinct English articles from the generated corpus, carrying the marker, not yet
    dated (stamped when published)."""
    picked = []
    for article in generated_articles(count * 3, seed=19):
        if article.language == "en":
            picked.append(article)
        if len(picked) == count:
            return picked
    raise RuntimeError(f"only {len(picked)} English articles among {count * 3} generated")


def _stamped(article: Article, n: int) -> Article:
    now = datetime.now(UTC)
    return Article.create(
        url=f"https://alerts-bench.example/{now:%Y%m%d%H%M%S}/{n}",
        source=article.source,
        title=f"{article.title} {MARKER}",
        text=f"{article.text} {MARKER}",
        authors=article.authors,
        language=article.language,
        published_at=now,
        date_source=DateSource.META,
        crawled_at=now,
    )


def _probe(api: str, tracked: dict[str, Tracked], stop: threading.Event) -> None:
    """The API's search for the marker, newest first: each id's first appearance."""
    query = urllib.parse.urlencode(
        {"q": MARKER, "sort": "date", "size": 100, "facets": "", "collapse": "none"}
    )
    while not stop.is_set():
        status, body = _request(f"{api}/v1/search?{query}")
        at = time.time()
        if status == 200:
            for hit in body["hits"]:
                entry = tracked.get(hit["id"])
                if entry is not None and entry.searchable_at is None:
                    entry.searchable_at = at
        stop.wait(PROBE_EVERY)


def _percentiles(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    if len(values) == 1:
        return values[0], values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return statistics.median(values), cuts[94]


def run(articles: int, rate: float, searches: int, keep: bool) -> dict[str, Any]:
    receiver = Receiver()
    server = receiver.serve()
    hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
    work = Path(tempfile.mkdtemp(prefix="newsagg-alert-latency-"))
    data = work / "data"
    data.mkdir()
    api_port = _free_port()
    env = {
        "NEWSAGG_DATA_DIR": str(data),
        "NEWSAGG_API_PORT": str(api_port),
        "NEWSAGG_CRAWLER_METRICS_PORT": "0",
        "NEWSAGG_INDEXER_METRICS_PORT": "0",
        "NEWSAGG_ALERTS_METRICS_PORT": "0",
        # the receiver is on loopback, which a saved search may not name otherwise
        "NEWSAGG_ALERTS_ALLOW_PRIVATE_WEBHOOKS": "true",
        # all the searches are the open API's (one owner)
        "NEWSAGG_ALERTS_MAX_PER_OWNER": str(max(1000, searches + 1)),
    }
    pool = _articles(articles + int(WARMUP_TIMEOUT) + 1)
    _save_others(data / "alerts.sqlite", searches)
    api = f"http://127.0.0.1:{api_port}"
    tracked: dict[str, Tracked] = {}
    began = time.monotonic()
    processes = {name: _start(name, env, work) for name in ("index", "api", "alerts")}
    worker = psutil.Process(processes["alerts"].pid)
    peak_rss = 0
    stop = threading.Event()
    bus = None
    try:
        _wait(lambda: _request(f"{api}/healthz")[0] == 200, 60, "the API")
        _save_searches(api, hook, receiver)
        bus = open_bus(f"sqlite:///{data / 'bus.sqlite'}")
        # Warm up: marker articles until one is delivered (the worker has loaded the
        # searches and every process has done its first batch).
        warm = 0
        deadline = time.monotonic() + WARMUP_TIMEOUT
        while not receiver.arrivals:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes.values()):
                raise RuntimeError(f"no delivery while warming up; logs in {work}")
            article = _stamped(pool.pop(), warm)
            bus.publish(ARTICLES_TOPIC, article.id, article.to_json())
            bus.flush()
            warm += 1
            time.sleep(1.0)
        print(f"warm after {warm} articles, {time.monotonic() - began:.1f}s", file=sys.stderr)
        prober = threading.Thread(target=_probe, args=(api, tracked, stop), daemon=True)
        prober.start()
        start = time.monotonic()
        for n in range(articles):
            time.sleep(max(0.0, start + n / rate - time.monotonic()))
            article = _stamped(pool.pop(), warm + n)
            tracked[article.id] = Tracked(article.id, time.time())
            bus.publish(ARTICLES_TOPIC, article.id, article.to_json())
            bus.flush()
            peak_rss = max(peak_rss, worker.memory_info().rss)

        def drained() -> bool:
            nonlocal peak_rss
            peak_rss = max(peak_rss, worker.memory_info().rss)
            return all(
                t.searchable_at and t.article_id in receiver.arrivals for t in tracked.values()
            )

        try:
            _wait(drained, DRAIN_TIMEOUT, "every article searchable and delivered")
        except RuntimeError:
            missing = [
                (t.article_id, t.searchable_at is not None, t.article_id in receiver.arrivals)
                for t in tracked.values()
                if not (t.searchable_at and t.article_id in receiver.arrivals)
            ]
            raise RuntimeError(f"not searchable/delivered, logs in {work}: {missing}") from None
        print(f"measured in {time.monotonic() - began:.1f}s", file=sys.stderr)
    finally:
        stop.set()
        if bus is not None:
            bus.close()
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        server.shutdown()
        complete = all(t.article_id in receiver.arrivals for t in tracked.values())
        if keep or not complete:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    for entry in tracked.values():
        entry.delivered_at = receiver.arrivals[entry.article_id]
    return {
        "tracked": list(tracked.values()),
        "twice": sum(len(ids) > 1 for ids in receiver.deliveries.values()),
        "bad_signatures": receiver.bad_signatures,
        "events": dict(receiver.events),
        "peak_rss_mib": peak_rss / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 articles, 100 other searches")
    parser.add_argument("--articles", type=int, help="articles published (default 600)")
    parser.add_argument(
        "--rate",
        type=float,
        default=20.0,
        help="articles per second (20: a fast crawl; bench/stories.py measures 56 to 105 "
        "pages/s end to end on its local sites, in bursts)",
    )
    parser.add_argument(
        "--searches", type=int, help="other saved searches, bench/alerts.py's mix (10,000)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the data dir and the logs")
    args = parser.parse_args()
    articles = args.articles or (20 if args.quick else 600)
    searches = args.searches if args.searches is not None else (100 if args.quick else 10_000)
    measured = run(articles, args.rate, searches, args.keep)
    done: list[Tracked] = measured["tracked"]
    stages = {
        "published -> searchable": [t.searchable_at - t.published_at for t in done],
        "searchable -> delivered": [t.delivered_at - t.searchable_at for t in done],
        "published -> delivered": [t.delivered_at - t.published_at for t in done],
    }
    rows = []
    for stage, values in stages.items():
        p50, p95 = _percentiles(values)
        rows.append(
            {
                "latency": stage,
                "n": len(values),
                "p50_s": p50,
                "p95_s": p95,
                "min_s": min(values),
                "max_s": max(values),
            }
        )
    p50, p95 = _percentiles(stages["searchable -> delivered"])
    targets = [
        target(
            "searchable -> webhook delivered p95 (s)",
            p95,
            f"< {GOAL_P95:g}",
            newsagg=f"p50 {p50:.2f} s, p95 {p95:.2f} s (n={len(done)})",
        ),
        target("articles delivered under two delivery ids", measured["twice"], "== 0"),
        target("deliveries with a bad signature", measured["bad_signatures"], "== 0"),
        target("alerts worker peak RSS (MiB)", round(measured["peak_rss_mib"], 1), ""),
    ]
    params = {
        "articles": articles,
        "rate_per_s": args.rate,
        "other_searches": searches,
        "quick": args.quick,
        "events": measured["events"],
    }
    report("alert_latency", rows, params, targets=targets)


if __name__ == "__main__":
    main()
