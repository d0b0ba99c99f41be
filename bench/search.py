"""Embedded store search latency at 1M generated articles, per editor query kind.

.venv/bin/python bench/search.py [--docs 1000000] [--repeat 200] [--quick]

The index is bench/corpus.py's shared one (`ensure_index` under .cache/bench/, built once
through the store's upsert path and reused while n, the corpus and the index layout are
the same; when this run built it, its build rate is a row). The query kinds are the
editor's of issue 16, exactly as bench/api.py asks them of the store and through the API
(`editor_kinds`): rare terms, common term, three words, phrase, filters + date sort,
facets, timeline (count + weekly buckets), deep date cursor. Each kind is timed
`--repeat` times, the kinds interleaved so each sees the same neighbours, in one process
with one reader (as an API worker holds one) and its startup objects frozen out of the
garbage collector's passes (as an API worker freezes them), after one untimed call each.
Beside the wall-clock p50/p99 (the targets), the CPU time of the process per call (all its
threads: the store's facet pass runs on a second one while the calling thread ranks): on a
shared machine a preempted call's wall time counts the neighbours, its CPU time does not.

One more kind is timed beside them, not a target: the phrase without facets. A faceted
search runs two passes over the matches (ranking, and facets on a second thread), and
for a phrase each checks positions on every article holding its words; without facets
the ranking pass counts and there is one. The two rows' CPU per call is that second
pass's cost, measured through the store's own calls.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import datetime
from typing import Any

from _measure import TreeSampler
from _report import report, target
from api import Kind, editor_kinds, shared_index, vocabulary
from corpus import read_manifest
from newsagg.api.app import freeze_startup_objects
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.query import parse_query
from newsagg.core.search import SearchQuery

P99_GOAL_MS = 50.0
ONE_PASS = "phrase, no facets (one pass; not a target)"


def percentile(values: list[float], q: float) -> float:
    """The q-quantile by the nearest-rank method (p99 of 200 timings: the 198th)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3,000 articles, 20 timings")
    parser.add_argument("--docs", type=int, help="articles in the index (1,000,000)")
    parser.add_argument("--repeat", type=int, help="timings per query kind (200)")
    parser.add_argument("--depth", type=int, default=10_000, help="deep cursor's depth")
    args = parser.parse_args()
    docs = args.docs or (3_000 if args.quick else 1_000_000)
    repeat = args.repeat or (20 if args.quick else 200)
    started = datetime.now().astimezone()
    index = shared_index(docs)
    manifest = read_manifest(index)
    rows: list[dict[str, Any]] = []
    if datetime.fromisoformat(manifest["built_at"]) >= started:
        rows.append(
            {
                "query kind": f"index build (upserts of {docs:,})",
                "p50 ms": 0.0,
                "p99 ms": 0.0,
                "mean ms": 0.0,
                "CPU p50 ms": 0.0,
                "CPU p99 ms": 0.0,
                "docs/s": manifest["docs_per_s"],
            }
        )
    store = TantivyStore(index, writable=False)
    kinds = editor_kinds(store, args.depth)
    one_pass = SearchQuery(query=parse_query(f'"{vocabulary()[2]}"'), facets=())
    kinds.append(Kind(ONE_PASS, "", lambda: store.search(one_pass)))
    timings: dict[str, list[float]] = {kind.name: [] for kind in kinds}
    cpu: dict[str, list[float]] = {kind.name: [] for kind in kinds}
    freeze_startup_objects()
    with TreeSampler(os.getpid()) as me:
        for kind in kinds:
            kind.store_call()
        for _ in range(repeat):
            for kind in kinds:
                began, began_cpu = time.perf_counter(), time.process_time()
                kind.store_call()
                timings[kind.name].append((time.perf_counter() - began) * 1000)
                cpu[kind.name].append((time.process_time() - began_cpu) * 1000)
    store.close()
    _, peak_rss = me.result()
    targets = []
    for name, values in timings.items():
        p99 = percentile(values, 0.99)
        rows.append(
            {
                "query kind": name,
                "p50 ms": round(statistics.median(values), 2),
                "p99 ms": round(p99, 2),
                "mean ms": round(statistics.fmean(values), 2),
                "CPU p50 ms": round(statistics.median(cpu[name]), 2),
                "CPU p99 ms": round(percentile(cpu[name], 0.99), 2),
                "docs/s": 0.0,
            }
        )
        if name != ONE_PASS:
            targets.append(target(f"5: store p99 ms, {name}", p99, f"< {P99_GOAL_MS:g}"))
    targets.append(target("6: peak RSS MB, search process", peak_rss, ""))
    report(
        "search",
        rows,
        {"docs": docs, "repeat": repeat, "depth": args.depth, "index": index.name},
        targets,
    )


if __name__ == "__main__":
    main()
