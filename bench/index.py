"""Indexing rate: generated articles into the embedded store and into Elasticsearch.

.venv/bin/python bench/index.py [--docs 20000] [--batch 1000] [--es-docs 10000] [--quick]
    [--writer-threads 1,2]

The articles are bench/corpus.py's (windows of real news bodies, ~300 words), made before
the clock starts. Each store gets them through its own `upsert`, in batches of `--batch`
(every upsert durable and searchable on return, as the SearchStore port asks):

- embedded: TantivyStore, and beside it in the same run tantivy alone on the same
  documents with the same layout, analyzer and writer settings (documents built untimed,
  one commit per batch): the engine's ceiling on this machine, the peer the store's rate is
  a ratio of. `--writer-threads 1,2` adds a store row for each other thread count. Beside
  them, the median wall time of a durable commit of one article (tantivy fsyncs each new
  segment file, its list of managed files and meta.json before the commit returns): every
  upsert pays it whatever its size, so `--batch` articles per commit bound the rate at
  batch / commit time even if indexing cost nothing; and the store's document building
  alone (`to_document`, no index), the part of its CPU per article that tantivy alone
  does not pay;
- Elasticsearch (skipped with --quick): a single local node started by deploy/local/launch.py
  (as the tests start one), upserts as the indexer makes them, then the same articles again
  into a fresh index inside `bulk_ingest()` (periodic refresh off, restored after).

docs/s is wall time over the upserts (the figure the targets name); CPU-seconds of this
process (all its threads: tantivy's indexing and merging threads included) are the
steadier figure on a shared machine. Peak RSS is of this process, sampled.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import tantivy
from _measure import TreeSampler, self_cpu
from _report import report, target
from corpus import generated_articles
from newsagg.core.adapters.tantivy_schema import ANALYZER, news_analyzer, schema, to_document
from newsagg.core.adapters.tantivy_store import WRITER_HEAP, WRITER_THREADS, TantivyStore
from newsagg.core.article import Article

ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_GOAL = ">= 10000"
ES_GOAL = ">= 3000"
ES_WARMUP_PASSES = 6
"""Untimed passes of the articles before the rows. After 3 the node still spent 0.38-0.48
CPU ms an article in bulk_ingest(); passes 5-10 spent 0.29-0.36 (scripts in /tmp, the
same 10,000 articles, load 1-8): the JIT was not done at 3."""
NODE_SAMPLE_S = 1.0
"""Seconds between reads of the node's CPU and RSS: each read walks /proc (~2 CPU ms here)
on this process's clock; ten a second added ~0.01 ms an article to the bench's CPU."""


def timed(label: str, n: int, run: Callable[[], None], **extra: Any) -> dict[str, Any]:
    """Run, and the row: docs/s wall and per CPU-second of this process."""
    gc.collect()
    wall, cpu = time.perf_counter(), self_cpu()
    run()
    wall, cpu = time.perf_counter() - wall, self_cpu() - cpu
    row = {
        "store": label,
        "docs": n,
        "docs/s": round(n / wall, 1),
        "docs per CPU-s": round(n / cpu, 1),
        "wall s": round(wall, 2),
    }
    print(f"{label}: {row['docs/s']:,.0f} docs/s ({row['docs per CPU-s']:,.0f} per CPU-s)")
    return row | extra


def embedded(
    articles: Sequence[Article], batch: int, tmp: Path, threads: int = WRITER_THREADS
) -> Callable[[], None]:
    store = TantivyStore(tmp / f"embedded-{threads}", writable=True, writer_threads=threads)
    store.ensure_schema()

    def run() -> None:
        for i in range(0, len(articles), batch):
            store.upsert(articles[i : i + batch])
        store.close()

    return run


def _alone_index(path: Path) -> tantivy.Index:
    """A tantivy index in the store's layout and analyzer, without the store."""
    path.mkdir()
    index = tantivy.Index(schema(), path=str(path))
    index.register_tokenizer(ANALYZER, news_analyzer())
    return index


def _writer(index: tantivy.Index) -> tantivy.IndexWriter:
    """The store's writer settings."""
    return index.writer(heap_size=WRITER_THREADS * WRITER_HEAP, num_threads=WRITER_THREADS)


def tantivy_alone(articles: Sequence[Article], batch: int, tmp: Path) -> Callable[[], None]:
    """The same documents and layout straight into tantivy: the engine's own rate here."""
    index = _alone_index(tmp / "alone")
    documents = [to_document(article) for article in articles]

    def run() -> None:
        writer = _writer(index)
        for i in range(0, len(documents), batch):
            for document in documents[i : i + batch]:
                writer.add_document(document)
            writer.commit()
        writer.wait_merging_threads()

    return run


def documents_alone(articles: Sequence[Article], batch: int, tmp: Path) -> Callable[[], None]:
    """The store's document building alone (`to_document`, no index): the Python share of
    an upsert, which the store pays and tantivy alone, given documents built untimed, does
    not."""

    def run() -> None:
        for article in articles:
            to_document(article)

    return run


def commit_ms(articles: Sequence[Article], tmp: Path) -> float:
    """Median wall milliseconds of a commit holding one article, in the store's layout."""
    index = _alone_index(tmp / "commits")
    writer = _writer(index)
    times = []
    for article in articles:
        writer.add_document(to_document(article))
        start = time.perf_counter()
        writer.commit()
        times.append(time.perf_counter() - start)
    writer.wait_merging_threads()
    return 1000 * statistics.median(times)


def _launcher() -> Any:
    spec = importlib.util.spec_from_file_location("newsagg_local", ROOT / "deploy/local/launch.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["newsagg_local"] = module
    spec.loader.exec_module(module)
    return module


def elasticsearch_rows(articles: Sequence[Article], batch: int) -> list[dict[str, Any]]:
    """Upserts as the indexer makes them, then the same into a new index in bulk_ingest().

    Both rows run on a warm node: the articles go ES_WARMUP_PASSES times, untimed, into
    an index dropped before the clock starts. The JVM compiles its indexing code over the
    first tens of thousands of documents, on the same cores, at two to three times the
    CPU per document of a warm node: a long-running node is warm, and the first row alone
    would pay for it. Node CPU-s is the node's CPU during the row only; the index's own
    stats say where the node spent it.
    """
    from elasticsearch import Elasticsearch
    from newsagg.core.adapters.elasticsearch_store import ElasticsearchStore

    node = _launcher().LocalElasticsearch(heap="1g").start()
    rows = []
    try:
        client = Elasticsearch(node.url, request_timeout=120)
        for _ in range(ES_WARMUP_PASSES):
            warmup = ElasticsearchStore(client, "bench-warmup", replicas=0)
            warmup.ensure_schema()
            with warmup.bulk_ingest():
                for i in range(0, len(articles), batch):
                    warmup.upsert(articles[i : i + batch])
            warmup.drop()
        for label, bulk in (("Elasticsearch", False), ("Elasticsearch, bulk_ingest()", True)):
            store = ElasticsearchStore(client, f"bench-{int(bulk)}", replicas=0)
            store.ensure_schema()

            def run(store: ElasticsearchStore = store, bulk: bool = bulk) -> None:
                if bulk:
                    with store.bulk_ingest():
                        for i in range(0, len(articles), batch):
                            store.upsert(articles[i : i + batch])
                else:
                    for i in range(0, len(articles), batch):
                        store.upsert(articles[i : i + batch])

            assert node.pid is not None
            with TreeSampler(node.pid, interval=NODE_SAMPLE_S) as node_tree:
                node_before = node_tree.result()[0]
                row = timed(label, len(articles), run)
            assert store.count() == len(articles), "not every article is searchable"
            node_cpu, node_rss = node_tree.result()
            node_cpu -= node_before
            rows.append(
                row
                | {
                    "node CPU-s": round(node_cpu, 2),
                    "CPU ms per doc, bench + node": round(
                        1000 * (len(articles) / row["docs per CPU-s"] + node_cpu) / len(articles),
                        3,
                    ),
                    "node peak RSS MB": round(node_rss, 1),
                }
                | _node_times(client, store.read_alias)
            )
            store.drop()
        client.close()
    finally:
        node.close()
    return rows


def _node_times(client: Any, index: str) -> dict[str, float]:
    """Seconds the index's primaries spent indexing (all write threads summed), refreshing
    (the final refresh writes the segments of a bulk_ingest), flushing and merging."""
    primaries = client.indices.stats(index=index)["_all"]["primaries"]
    times = {
        "node index s": primaries["indexing"]["index_time_in_millis"],
        "node refresh s": primaries["refresh"]["total_time_in_millis"],
        "node flush s": primaries["flush"]["total_time_in_millis"],
        "node merge s": primaries["merges"]["total_time_in_millis"],
    }
    return {name: round(ms / 1000, 2) for name, ms in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--es-docs", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--quick", action="store_true", help="3,000 docs, embedded only")
    parser.add_argument(
        "--writer-threads",
        default=str(WRITER_THREADS),
        help="comma-separated tantivy indexing threads: one store row each (first is the target's)",
    )
    args = parser.parse_args()
    n = 3_000 if args.quick else args.docs
    articles = list(generated_articles(max(n, 0 if args.quick else args.es_docs)))
    threads = [int(value) for value in args.writer_threads.split(",")]
    runs: list[tuple[str, Callable[..., Callable[[], None]], dict[str, int]]] = [
        ("tantivy alone", tantivy_alone, {})
    ]
    for count in threads:
        label = "embedded store" if count == threads[0] else f"embedded store, {count} threads"
        runs.append((label, embedded, {"threads": count}))
    runs.append(("documents built alone (to_document, no index)", documents_alone, {}))
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, make, options in runs:
            run = make(articles[:n], args.batch, Path(tmp), **options)
            with TreeSampler(os.getpid()) as me:
                row = timed(label, n, run)
            rows.append(row | {"peak RSS MB": round(me.result()[1], 1)})
        commit = commit_ms(articles[: 10 if args.quick else 40], Path(tmp))
    print(f"durable commit of one article: {commit:.0f} ms (median)")
    targets = [
        target(
            "4: docs/s into the embedded store",
            rows[1]["docs/s"],
            EMBEDDED_GOAL,
            newsagg=rows[1]["docs/s"],
            peer=f"tantivy alone {rows[0]['docs/s']:,.0f}",
        ),
        target(
            "4: embedded store / tantivy alone, docs/s", rows[1]["docs/s"] / rows[0]["docs/s"], ""
        ),
        target(
            "4: embedded store / tantivy alone, docs per CPU-s",
            rows[1]["docs per CPU-s"] / rows[0]["docs per CPU-s"],
            "",
        ),
        target(
            "4: document building (to_document) / the store's CPU per article",
            rows[1]["docs per CPU-s"] / rows[-1]["docs per CPU-s"],
            "",
        ),
        target("4: durable commit of one article, median ms", round(commit, 1), ""),
        target(
            f"4: docs/s the commits alone allow at {args.batch} a batch",
            round(args.batch / (commit / 1000)),
            "",
        ),
    ]
    if not args.quick:
        es = elasticsearch_rows(articles[: args.es_docs], args.batch)
        rows.extend(es)
        best = max(es, key=lambda row: row["docs/s"])
        targets.append(
            target(
                "4: docs/s into Elasticsearch",
                best["docs/s"],
                ES_GOAL,
                newsagg=f"{best['docs/s']:,.0f} ({best['store']})",
                peer=f"per-upsert refresh {es[0]['docs/s']:,.0f}",
            )
        )
        cost = "CPU ms per doc, bench + node"
        targets.append(
            target(
                "4: Elasticsearch CPU ms per doc (bench process + node), bulk_ingest()",
                es[1][cost],
                "",
                newsagg=f"{es[1][cost]:.3f} ms",
                peer=f"per-upsert refresh {es[0][cost]:.3f} ms",
            )
        )
    report(
        "index",
        rows,
        {"docs": n, "es_docs": 0 if args.quick else args.es_docs, "batch": args.batch},
        targets,
    )


if __name__ == "__main__":
    main()
