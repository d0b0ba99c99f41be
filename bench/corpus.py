"""The benchmarks' shared corpus: the 121 real benchmark pages, and articles generated from them.

`benchmark_pages()` reads bench/data/article-extraction-benchmark (real pages, hand-checked
bodies). `generated_articles(n)` makes any number of articles whose texts are windows of those
real bodies (so the vocabulary, its frequencies and the text lengths are those of real news, in
the languages the pages are in), titled from the real pages' titles and first sentences, spread
over 24 sources, ~2 years of publication dates and a pool of authors, a few of them naming people
the editors search for. The same (n, seed) gives the same articles, in the same order.

`ensure_index(path, n)` builds an embedded index of `n` generated articles through the store's
own upsert path, once: a manifest beside it records n, the corpus version and the index layout,
and a later call with the same three reuses it (bench/search.py and bench/api.py share one under
.cache/bench/).
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import html
import json
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from newsagg.core.article import Article, DateSource, article_id, content_hash

DATA = Path(__file__).parent / "data" / "article-extraction-benchmark"
CACHE = Path(__file__).resolve().parent.parent / ".cache" / "bench"
CORPUS_VERSION = 1
"""Bump when generated_articles changes what it yields: cached indexes are then rebuilt."""

START = datetime(2024, 1, 1, tzinfo=UTC)
SPAN_S = 2 * 365 * 24 * 3600
SOURCES = [
    ("daily-herald", "dailyherald.example"),
    ("city-chronicle", "citychronicle.example"),
    ("the-ledger", "theledger.example"),
    ("morning-post", "morningpost.example"),
    ("evening-standard-review", "eveningreview.example"),
    ("coastal-times", "coastaltimes.example"),
    ("tech-wire", "techwire.example"),
    ("screen-weekly", "screenweekly.example"),
    ("marquee-daily", "marqueedaily.example"),
    ("reel-news", "reelnews.example"),
    ("market-watcher", "marketwatcher.example"),
    ("sports-desk", "sportsdesk.example"),
    ("health-journal", "healthjournal.example"),
    ("science-today", "sciencetoday.example"),
    ("metro-gazette", "metrogazette.example"),
    ("valley-tribune", "valleytribune.example"),
    ("north-star-news", "northstarnews.example"),
    ("global-dispatch", "globaldispatch.example"),
    ("policy-review", "policyreview.example"),
    ("culture-notes", "culturenotes.example"),
    ("island-observer", "islandobserver.example"),
    ("harbour-voice", "harbourvoice.example"),
    ("river-courier", "rivercourier.example"),
    ("summit-bulletin", "summitbulletin.example"),
]
"""(source name, host): weighted 1/rank (Zipf), so a few sources carry most articles."""
NAMES = [
    "Milind Soman",
    "Ankita Konwar",
    "Tara Mirchandani",
    "Kabir Anand",
    "Naina Sehgal",
    "Greta Lindqvist",
    "Tomasz Wierzbicki",
    "Amara Okafor",
]
"""People the editors search for: each is named by about 1 article in 400."""
NAME_RATE = 0.02
FIRST = ["Alex", "Sam", "Maria", "Jon", "Priya", "Wei", "Lena", "Omar", "Ines", "Raj", "Kim"]
LAST = ["Smith", "Garcia", "Chen", "Patel", "Muller", "Rossi", "Silva", "Kowalski", "Haddad"]
WORDS_MIN, WORDS_MAX = 120, 900
"""Body length in words (real bodies here run from ~100 to a few thousand)."""

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_SENTENCE = re.compile(r"^(.{20,160}?[.!?])(\s|$)")


@dataclass(frozen=True)
class Page:
    """One real benchmark page: its address, the page as fetched and its checked body."""

    key: str
    url: str
    html: bytes
    body: str


def benchmark_pages(data: Path | None = None) -> list[Page]:
    """The benchmark's pages, in id order."""
    root = data or DATA
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    return [
        Page(
            key=key,
            url=entry["url"],
            html=gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes()),
            body=entry["articleBody"],
        )
        for key, entry in sorted(truth.items())
    ]


def _page_title(page: Page) -> str | None:
    found = _TITLE.search(page.html)
    if not found:
        return None
    title = " ".join(html.unescape(found.group(1).decode("utf-8", "ignore")).split())
    return title[:200] or None


def _titles(pages: list[Page]) -> list[str]:
    """The real pages' titles and the first sentences of their bodies."""
    titles = [t for page in pages if (t := _page_title(page))]
    for page in pages:
        found = _SENTENCE.match(" ".join(page.body.split()))
        if found:
            titles.append(found.group(1))
    return titles


def _language(text: str) -> str:
    import py3langid  # the crawler's language identifier, imported only here (its model loads)

    return str(py3langid.classify(text[:2000])[0])


class _Vocabulary:
    """Every body's words end to end in one string, where each word and body starts, languages."""

    def __init__(self, pages: list[Page]) -> None:
        words: list[str] = []
        body_starts: list[int] = []
        self.languages: list[str] = []
        for page in pages:
            body_starts.append(len(words))
            words.extend(page.body.split())
            self.languages.append(_language(page.body))
        self.text = " ".join(words) + " "
        offsets = np.zeros(len(words) + 1, dtype=np.int64)
        np.cumsum([len(word) + 1 for word in words], out=offsets[1:])
        self.offsets = offsets
        self.body_starts = np.array(body_starts, dtype=np.int64)
        self.body_ends = np.append(self.body_starts[1:], len(words))
        self.titles = _titles(pages)

    def window(self, start: int, length: int) -> str:
        """`length` consecutive words from word `start` on, running on into the next bodies
        (a window of the last body ends with it: at least half its length)."""
        end = min(start + length, len(self.offsets) - 1)
        return self.text[self.offsets[start] : self.offsets[end] - 1]


CHUNK = 4096
"""Articles drawn at a time: numpy draws each chunk's random choices at once."""


def generated_articles(n: int, seed: int = 7, data: Path | None = None) -> Iterator[Article]:
    """n realistic articles, the same ones for the same (n, seed, data)."""
    rng = np.random.default_rng(seed)
    vocabulary = _Vocabulary(benchmark_pages(data))
    weights = np.array([1 / rank for rank in range(1, len(SOURCES) + 1)])
    weights /= weights.sum()
    authors = [f"{first} {last}" for first in FIRST for last in LAST]
    bodies = len(vocabulary.body_starts)
    for first in range(0, n, CHUNK):
        size = min(CHUNK, n - first)
        sources = rng.choice(len(SOURCES), size=size, p=weights)
        lengths = np.clip(rng.lognormal(5.6, 0.5, size), WORDS_MIN, WORDS_MAX).astype(np.int64)
        body = rng.integers(0, bodies, size)
        starts = vocabulary.body_starts[body] + (
            rng.random(size)
            * np.maximum(
                1, vocabulary.body_ends[body] - vocabulary.body_starts[body] - lengths // 2
            )
        ).astype(np.int64)
        titles = rng.integers(0, len(vocabulary.titles), size)
        named = rng.random(size) < NAME_RATE
        names = rng.integers(0, len(NAMES), size)
        name_in_title = rng.random(size) < 0.5
        name_at = rng.random(size)
        published_s = rng.integers(0, SPAN_S, size)
        crawl_delay_s = rng.integers(60, 6 * 3600, size)
        author_counts = rng.choice(4, size=size, p=[0.25, 0.5, 0.15, 0.1])
        author_picks = rng.integers(0, len(authors), (size, 3))
        for j in range(size):
            i = first + j
            source, host = SOURCES[sources[j]]
            text = vocabulary.window(int(starts[j]), int(lengths[j]))
            title = vocabulary.titles[titles[j]]
            if named[j]:
                name = NAMES[names[j]]
                cut = text.find(" ", int(name_at[j] * len(text)))
                text = f"{name} {text}" if cut < 0 else f"{text[:cut]} {name}{text[cut:]}"
                if name_in_title[j]:
                    title = f"{name}: {title}"
            published = START + timedelta(seconds=int(published_s[j]))
            url = f"https://{host}/{published.year}/{published.month:02}/story-{i}"
            yield Article(
                id=article_id(url),
                url=url,
                canonical_url=url,
                source=source,
                title=title,
                text=text,
                authors=list(
                    dict.fromkeys(authors[k] for k in author_picks[j, : author_counts[j]])
                ),
                published_at=published,
                date_source=DateSource.SITEMAP,
                crawled_at=published + timedelta(seconds=int(crawl_delay_s[j])),
                language=vocabulary.languages[body[j]],
                word_count=text.count(" ") + 1,
                content_hash=content_hash(title, text),
            )


def _layout() -> str:
    """A fingerprint of the store's index layout: a cached index from another layout is rebuilt."""
    from newsagg.core.adapters import tantivy_schema

    return hashlib.sha256(Path(tantivy_schema.__file__).read_bytes()).hexdigest()[:16]


def manifest_path(path: Path) -> Path:
    return path.with_name(f"{path.name}.manifest.json")


def read_manifest(path: Path) -> dict[str, Any]:
    """What ensure_index recorded of the index at `path` (n, versions, build time and rate)."""
    return dict(json.loads(manifest_path(path).read_text()))


def ensure_index(path: Path, n: int, *, batch: int = 10_000) -> Path:
    """An embedded index of n generated articles at `path` (returned): reused if its manifest
    matches.

    Built through TantivyStore.upsert (the indexer's path), in batches of `batch`; the
    manifest (read_manifest) records n, corpus version, layout, the build's duration and
    rate, and `built_at`, so a caller can tell whether this call built it. Callers for the
    same path wait for each other (a lock file beside it).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # One builder at a time: bench/search.py and bench/api.py share the index, and a second
    # builder's rmtree under the first one's writer broke both (and threw the index away).
    with (path.parent / f"{path.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _ensure_index(path, n, batch)


def _ensure_index(path: Path, n: int, batch: int) -> Path:
    from newsagg.core.adapters.tantivy_store import TantivyStore

    wanted = {"n": n, "corpus_version": CORPUS_VERSION, "layout": _layout()}
    manifest = manifest_path(path)
    if manifest.exists() and (path / "meta.json").exists():
        recorded = json.loads(manifest.read_text())
        if all(recorded.get(key) == value for key, value in wanted.items()):
            return path
    manifest.unlink(missing_ok=True)
    shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    store = TantivyStore(path, writable=True)
    store.ensure_schema()
    started = time.perf_counter()
    pending: list[Article] = []
    for article in generated_articles(n):
        pending.append(article)
        if len(pending) >= batch:
            store.upsert(pending)
            pending = []
    if pending:
        store.upsert(pending)
    store.close()
    built_s = time.perf_counter() - started
    recorded = wanted | {
        "built_s": round(built_s, 1),
        "docs_per_s": round(n / built_s, 1),
        "built_at": datetime.now(UTC).isoformat(),
    }
    manifest.write_text(json.dumps(recorded, indent=2))
    return path
