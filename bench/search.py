"""Embedded search store: indexing rate and query latency on synthetic news articles.

.venv/bin/python bench/search.py [--docs 50000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _report import report
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.article import Article
from newsagg.core.query import parse_query
from newsagg.core.search import SearchQuery, Sort

WORDS = [
    "film",
    "series",
    "actor",
    "actress",
    "box",
    "office",
    "trailer",
    "release",
    "premiere",
    "music",
    "album",
    "award",
    "festival",
    "director",
    "cast",
    "season",
    "episode",
    "streaming",
    "television",
    "fitness",
    "running",
    "cycling",
    "marathon",
    "interview",
    "fans",
    "record",
    "week",
    "night",
    "star",
    "drama",
    "comedy",
    "thriller",
    "review",
    "tour",
]
NAMES = ["Milind Soman", "Ankita Konwar", "Tara Mirchandani", "Kabir Anand", "Naina Sehgal"]
QUERIES = ["Milind Soman cycling", '"box office"', "film -trailer", "award OR festival", "review"]


def synthetic(n: int, rng: random.Random) -> list[Article]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    docs = []
    for i in range(n):
        body = " ".join(rng.choice(WORDS) for _ in range(300))
        name = rng.choice(NAMES)
        docs.append(
            Article.create(
                url=f"https://bench.example/{i}",
                source=f"source-{i % 20}",
                title=f"{name} {rng.choice(WORDS)} {rng.choice(WORDS)}",
                text=f"{name} {body}",
                published_at=start + timedelta(minutes=17 * i),
            )
        )
    return docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    docs = synthetic(args.docs, random.Random(7))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        writer = TantivyStore(Path(tmp) / "index", writable=True)
        writer.ensure_schema()
        started = time.perf_counter()
        for i in range(0, len(docs), args.batch):
            writer.upsert(docs[i : i + args.batch])
        elapsed = time.perf_counter() - started
        rows.append(
            {
                "operation": f"upsert (batches of {args.batch})",
                "per second": len(docs) / elapsed,
                "p50 ms": 0.0,
                "p95 ms": 0.0,
            }
        )
        reader = TantivyStore(Path(tmp) / "index", writable=False)
        for q in QUERIES:
            for sort in (Sort.RELEVANCE, Sort.DATE):
                request = SearchQuery(query=parse_query(q), sort=sort, size=10)
                timings = []
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    reader.search(request)
                    timings.append((time.perf_counter() - t) * 1000)
                timings.sort()
                rows.append(
                    {
                        "operation": f"search {q} ({sort.value})",
                        "per second": 1000 / statistics.mean(timings),
                        "p50 ms": statistics.median(timings),
                        "p95 ms": timings[int(len(timings) * 0.95) - 1],
                    }
                )
        writer.close()
        reader.close()
    report("search", rows, {"docs": args.docs, "words_per_doc": 300})


if __name__ == "__main__":
    main()
