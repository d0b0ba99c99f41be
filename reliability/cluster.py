"""`make cluster-test`: the scaled-out pipeline on real clusters, through three crashes.

    .venv/bin/python -m reliability.cluster [--pages 100] [--page-delay 7] [--down 10]

3 Kafka brokers (topics with replication 3, min.insync.replicas 2) and 2 Elasticsearch
nodes (2 shards, 1 replica) from deploy/local/launch.py; the two demo outlets and three
generated sites of `--pages` stories each; 2 crawlers sharing the sources
(NEWSAGG_CRAWLER_SHARD), 3 indexers in one consumer group, one API. While the crawl
streams: kill -9 one broker, then one Elasticsearch node, then one indexer, each brought
back `--down` seconds later. It prints expected / indexed / lost / duplicated, how long
the pipeline stalled at each fault (from the kill to the next article indexed) and the
peak memory (RSS) of every process, writes them to test-artifacts/cluster.json, and
exits 1 unless every article was indexed exactly once.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from newsagg.cli.demo_site import MANIFEST_PATH, DemoSites
from reliability.pipeline import Count, Pipeline, Service
from reliability.processes import descendants
from reliability.site import NewsSite, load_stories

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
TESTS = ROOT / "tests"
CRAWLERS = 2
INDEXERS = 3
PARTITIONS = 6
GENERATED_SITES = 3
EXPECTED_LAYOUT = {
    "topic_partitions": PARTITIONS,
    "topic_replicas": [3],
    "topic_min_insync_replicas": 2,
    "index_shards": 2,
    "index_replicas": 1,
}
"""What the services must have created on the clusters from the settings `make cluster` prints."""
NOT_ARTICLES = {"empty", "not-html"}
"""Pages of the demo's first outlet that are bad input for the crawler, not stories."""


@dataclass
class FaultResult:
    name: str
    target: str
    down_s: float
    stall_s: float | None
    """Kill to the next article indexed; None: none was indexed after it."""
    back_s: float
    """Kill to the node or process serving again."""


@dataclass
class Report:
    expected: int = 0
    indexed: int = 0
    lost: int = 0
    duplicated: int = 0
    faults: list[FaultResult] = field(default_factory=list)
    rss_mb: dict[str, float] = field(default_factory=dict)
    es_health_at_end: str = ""
    sizes: dict[str, float] = field(default_factory=dict)
    layout: dict[str, Any] = field(default_factory=dict)
    """What the services created, read back from the servers at the end."""
    """Bytes on disk at the end: the index (primaries, all copies), the articles topic."""
    complete_after_s: float | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def green(self) -> bool:
        return (
            not self.problems
            and self.expected > 0
            and self.indexed == self.expected
            and self.lost == 0
            and self.duplicated == 0
            and all(f.stall_s is not None for f in self.faults)
        )


class ClusterPipeline(Pipeline):
    """`crawlers` sharded crawlers, `indexers` indexers in one group and the API, each
    crawler and indexer with a data dir of its own (a crawler keeps its crawl state there)."""

    def __init__(
        self, data_dir: Path, sources_yaml: str, env: dict[str, str], crawlers: int, indexers: int
    ) -> None:
        super().__init__(data_dir, sources_yaml, env)
        base = self.services["api"].env
        services: dict[str, Service] = {}
        for role, count in (("crawl", crawlers), ("index", indexers)):
            for i in range(count):
                name = f"{role}-{i}"
                own = data_dir / name
                own.mkdir(exist_ok=True)
                extra = {"NEWSAGG_DATA_DIR": str(own)}
                if role == "crawl":
                    extra |= {"NEWSAGG_CRAWLER_SHARDS": str(count), "NEWSAGG_CRAWLER_SHARD": str(i)}
                services[name] = Service(name, {**base, **extra}, data_dir, command=role)
        services["api"] = self.services["api"]
        self.services = services


class Watch(threading.Thread):
    """Samples the index's article count (four times a second, from any live node) and the
    memory of every process (each second), so stalls and peaks are read afterwards."""

    def __init__(self, es_urls: list[str], alias: str, processes: Callable[[], dict[str, int]]):
        super().__init__(daemon=True)
        self.es_urls = es_urls
        self.alias = alias
        self.processes = processes
        self.samples: list[tuple[float, int]] = []
        self.rss_kb: dict[str, int] = {}
        self._done = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        last_rss = 0.0
        while not self._done.wait(0.25):
            count = self._count()
            if count is not None:
                with self._lock:
                    self.samples.append((time.monotonic(), count))
            if time.monotonic() - last_rss >= 1.0:
                last_rss = time.monotonic()
                for name, pid in self.processes().items():
                    kb = group_rss_kb(pid)
                    self.rss_kb[name] = max(self.rss_kb.get(name, 0), kb)

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=5)

    def _count(self) -> int | None:
        """Documents in the read alias, only from an answer every shard gave (a count while
        a primary is being promoted would be short)."""
        for url in self.es_urls:
            try:
                with urllib.request.urlopen(f"{url}/{self.alias}/_count", timeout=2) as resp:
                    body = json.load(resp)
            except (OSError, urllib.error.HTTPError, ValueError):
                continue
            if body.get("_shards", {}).get("failed", 1) == 0:
                return int(body["count"])
        return None

    def latest(self) -> int:
        with self._lock:
            return self.samples[-1][1] if self.samples else 0

    def first_rise_after(self, moment: float) -> float | None:
        """Seconds from `moment` to the first sample with more articles than at `moment`."""
        with self._lock:
            samples = list(self.samples)
        before = [count for at, count in samples if at <= moment]
        level = before[-1] if before else 0
        for at, count in samples:
            if at > moment and count > level:
                return at - moment
        return None


def group_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants (a crawler's extraction workers,
    Elasticsearch's launcher and server JVM), from /proc."""
    total = 0
    for member in (pid, *descendants(pid)):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def demo_expected(sites: DemoSites) -> set[str]:
    """Every story URL of every demo outlet, as served on this run's ports."""
    urls = {
        f"{site.url}/articles/{page.name}"
        for site in sites.sites
        for page in (site.outlet.site_dir / "articles").glob("*.html")
        if page.stem not in NOT_ARTICLES
    }
    manifest = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    if len(urls) != manifest["article_count"]:
        raise RuntimeError(
            f"{len(urls)} demo stories, the manifest says {manifest['article_count']}"
        )
    return urls


class Run:
    """Everything started for one cluster test, and the steps of the test."""

    def __init__(self, args: argparse.Namespace) -> None:
        sys.path.insert(0, str(TESTS))
        from support.launcher import local_servers  # the suite's loader of launch.py

        servers = local_servers()
        self.args = args
        self.work = args.work_dir
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        self.kafka = servers.LocalKafkaCluster(
            3, data_dir=self.work / "servers", startup_timeout=args.startup_timeout
        )
        self.es = servers.LocalElasticsearchCluster(
            2, data_dir=self.work / "servers", startup_timeout=args.startup_timeout
        )
        self.demo = DemoSites()
        stories = load_stories(args.pages)
        self.generated = [
            NewsSite(stories, delay=args.page_delay, source=f"cluster-news-{i + 1}")
            for i in range(GENERATED_SITES)
        ]
        self.pipeline: ClusterPipeline | None = None
        self.watch: Watch | None = None
        self.hold: set[str] = set()

    def start(self) -> None:
        began = time.monotonic()
        failures: list[BaseException] = []

        def start_es() -> None:
            try:
                self.es.start()
            except BaseException as exc:
                failures.append(exc)

        es_thread = threading.Thread(target=start_es, daemon=True)
        es_thread.start()
        self.kafka.start()
        es_thread.join()
        if failures:
            raise failures[0]
        print(f"clusters up in {time.monotonic() - began:.0f}s:", flush=True)
        for key, value in {**self.kafka.env, **self.es.env}.items():
            print(f"  {key}={value}", flush=True)
        self.demo.start()
        for site in self.generated:
            site.start()
        sources = self.demo.sources_yaml(interval=60) + "".join(
            site.sources_yaml(interval=60).removeprefix("sources:\n") for site in self.generated
        )
        env = {
            **self.kafka.env,
            **self.es.env,
            "NEWSAGG_KAFKA_PARTITIONS": str(PARTITIONS),
            "NEWSAGG_KAFKA_DELIVERY_TIMEOUT": "60",
        }
        self.pipeline = ClusterPipeline(self.work / "services", sources, env, CRAWLERS, INDEXERS)
        self.pipeline.start()
        self.watch = Watch([node.url for node in self.es.nodes], "articles", self.processes)
        self.watch.start()

    @property
    def expected(self) -> set[str]:
        urls = demo_expected(self.demo)
        for site in self.generated:
            urls |= site.expected_urls
        return urls

    def processes(self) -> dict[str, int]:
        """The pid of every process to measure, by name."""
        found: dict[str, int] = {}
        if self.pipeline is not None:
            for name, service in self.pipeline.services.items():
                if service.running():
                    found[name] = service.pid
        for cluster in (self.kafka, self.es):
            for i, node in enumerate(cluster.nodes):
                if node.is_running() and node.pid:
                    found[f"{node.name}-{i + 1}"] = node.pid
        return found

    def tend_for(self, seconds: float, until: Callable[[], bool] | None = None) -> None:
        """Supervise the services (restart what died, but what is held down) for a while."""
        assert self.pipeline is not None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.pipeline.tend(frozenset(self.hold))
            if until is not None and until():
                return
            time.sleep(0.2)

    def in_background(self, action: Callable[[], object]) -> threading.Thread:
        """Run a blocking start (a JVM coming back) while the services are tended."""
        errors: list[BaseException] = []

        def run() -> None:
            try:
                action()
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.errors = errors  # type: ignore[attr-defined]
        thread.start()
        return thread

    def wait_for_articles(self, at_least: int, timeout: float) -> None:
        assert self.watch is not None
        watch = self.watch
        self.tend_for(timeout, until=lambda: watch.latest() >= at_least)
        if watch.latest() < at_least:
            raise RuntimeError(
                f"only {watch.latest()} articles indexed after {timeout:.0f}s; logs in {self.work}"
            )

    def kill_server(self, name: str, node: Any) -> FaultResult:
        assert self.watch is not None
        print(f"fault: {name} (pid {node.pid}, {node.url})", flush=True)
        at = time.monotonic()
        node.kill()
        self.tend_for(self.args.down)
        restart = self.in_background(node.start)
        while restart.is_alive():
            self.tend_for(0.5)
        if restart.errors:  # type: ignore[attr-defined]
            raise RuntimeError(f"{name}: could not start it again: {restart.errors[0]}")  # type: ignore[attr-defined]
        back = time.monotonic() - at
        self.tend_for(self.args.settle)
        return FaultResult(name, node.url, self.args.down, self.watch.first_rise_after(at), back)

    def kill_service(self, name: str, service: str) -> FaultResult:
        assert self.pipeline is not None
        assert self.watch is not None
        print(f"fault: {name} (pid {self.pipeline.services[service].pid})", flush=True)
        at = time.monotonic()
        self.hold.add(service)
        self.pipeline.services[service].signal(signal.SIGKILL)
        self.tend_for(self.args.down)
        self.hold.discard(service)
        self.tend_for(
            5, until=lambda: self.pipeline is not None and self.pipeline.services[service].running()
        )
        back = time.monotonic() - at
        self.tend_for(self.args.settle)
        return FaultResult(name, service, self.args.down, self.watch.first_rise_after(at), back)

    def faults(self) -> list[FaultResult]:
        results = [self.kill_server("kill -9 Kafka broker 1 of 3", self.kafka.nodes[0])]
        voting = self.es.voting_node()
        other = next(node for node in self.es.nodes if node is not voting)
        results.append(self.kill_server("kill -9 Elasticsearch node (not the voting one)", other))
        results.append(self.kill_service("kill -9 indexer 2 of 3", "index-1"))
        return results

    def finish(self, report: Report, began: float) -> None:
        """Wait until every story is indexed (or the time is up), then count."""
        assert self.pipeline is not None
        expected = self.expected
        pipeline = self.pipeline
        last: list[Count] = []

        def complete() -> bool:
            count = pipeline.count(expected)
            if count is not None:
                last[:] = [count]
            return count is not None and count.complete

        deadline = time.monotonic() + self.args.timeout
        while time.monotonic() < deadline and not complete():
            self.tend_for(2.0)
        if last and last[0].complete:
            report.complete_after_s = round(time.monotonic() - began, 1)
        time.sleep(2.0)  # a last look, for late duplicates
        complete()
        if not last:
            report.problems.append("the API never answered the export")
            count = Count(len(expected), 0, len(expected), 0)
        else:
            count = last[0]
        report.expected, report.indexed = count.expected, count.indexed
        report.lost, report.duplicated = count.lost, count.duplicated
        try:
            health = self.es.health()
            report.es_health_at_end = str(health.get("status"))
            report.sizes = self.sizes()
        except Exception as exc:  # reported, not raised: the count is what matters
            report.es_health_at_end = f"unknown ({exc})"
        try:
            report.layout = self.layout()
        except Exception as exc:  # a layout that cannot be read is not a layout checked
            report.problems.append(f"could not read the topic's and index's layout: {exc!r}")
        else:
            if report.layout != EXPECTED_LAYOUT:
                report.problems.append(f"layout {report.layout}, expected {EXPECTED_LAYOUT}")

    def layout(self) -> dict[str, Any]:
        """The articles topic's partitions, replicas and min.insync.replicas as the brokers
        describe them, and the index's shards and replicas as Elasticsearch has them."""
        from kafka import KafkaAdminClient
        from kafka.admin import ConfigResource, ConfigResourceType

        admin = KafkaAdminClient(bootstrap_servers=self.kafka.bootstrap_servers)
        try:
            (topic,) = admin.describe_topics(["articles"])
            configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "articles")])
        finally:
            admin.close()
        min_isr = configs["topic"]["articles"]["min.insync.replicas"]["value"]
        (index,) = self.es._get("/articles/_settings").values()
        return {
            "topic_partitions": len(topic["partitions"]),
            "topic_replicas": sorted({len(p["replica_nodes"]) for p in topic["partitions"]}),
            "topic_min_insync_replicas": int(min_isr),
            "index_shards": int(index["settings"]["index"]["number_of_shards"]),
            "index_replicas": int(index["settings"]["index"]["number_of_replicas"]),
        }

    def sizes(self) -> dict[str, float]:
        """What the corpus takes on disk, for README's sizing: the index's primaries and all
        its copies (Elasticsearch's `_cat/indices`), and the articles topic's log segments
        on each broker (gzip-compressed batches, one copy per broker)."""
        (index,) = self.es._get("/_cat/indices/articles-v*?bytes=b&format=json")
        topic = [
            sum(f.stat().st_size for f in part.glob("*.log"))
            for node in self.kafka.nodes
            for part in (node.work_dir / "data").glob("articles-[0-9]*")
        ]
        return {
            "index_docs": float(index["docs.count"]),
            "index_primary_bytes": float(index["pri.store.size"]),
            "index_total_bytes": float(index["store.size"]),
            "topic_bytes_all_brokers": float(sum(topic)),
        }

    def close(self) -> None:
        if self.watch is not None:
            self.watch.stop()
        if self.pipeline is not None:
            self.pipeline.stop()
        for site in self.generated:
            site.stop()
        self.demo.stop()
        self.es.stop()
        self.kafka.stop()


def _print(report: Report) -> None:
    counts = Table(title="newsagg cluster test (make cluster-test)")
    for column in ("expected", "indexed", "lost", "duplicated"):
        counts.add_column(column, justify="right")
    counts.add_row(
        str(report.expected),
        str(report.indexed),
        str(report.lost),
        str(report.duplicated),
        style=None if report.green else "bold red",
    )
    faults = Table(title="faults, in order")
    for column in ("fault", "down s", "back after s", "stall s"):
        faults.add_column(column, justify="left" if column == "fault" else "right")
    for fault in report.faults:
        stall = "never" if fault.stall_s is None else f"{fault.stall_s:.1f}"
        faults.add_row(fault.name, f"{fault.down_s:.0f}", f"{fault.back_s:.1f}", stall)
    memory = Table(title="peak resident memory (VmRSS of the process and its children)")
    memory.add_column("process")
    memory.add_column("MB", justify="right")
    for name, mb in sorted(report.rss_mb.items()):
        memory.add_row(name, f"{mb:.0f}")
    console = Console(width=max(100, Console().width))
    for table in (counts, faults, memory):
        console.print(table)
    print("stall: from the kill to the next article indexed; back after: to serving again")
    print(f"Elasticsearch health at the end: {report.es_health_at_end}")
    if report.layout:
        print(
            "created: topic articles {topic_partitions} partitions x {topic_replicas} replicas, "
            "min.insync.replicas {topic_min_insync_replicas}; index {index_shards} shards "
            "+ {index_replicas} replica".format(**report.layout)
        )
    if report.sizes.get("index_docs"):
        docs = report.sizes["index_docs"]
        index_kib = report.sizes["index_primary_bytes"] / docs / 1024
        topic_kib = report.sizes["topic_bytes_all_brokers"] / 3 / docs / 1024
        print(
            f"on disk: index {index_kib:.1f} KiB per article per copy; "
            f"articles topic {topic_kib:.1f} KiB per article per broker"
        )
    if report.complete_after_s is not None:
        print(f"every article indexed {report.complete_after_s:.0f}s after the services started")
    for problem in report.problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)


def _write(out: Path, report: Report, args: argparse.Namespace) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "cores": os.cpu_count()},
        "topology": {
            "kafka_brokers": 3,
            "replication": 3,
            "min_insync_replicas": 2,
            "partitions": PARTITIONS,
            "es_nodes": 2,
            "es_shards": 2,
            "es_replicas": 1,
            "crawlers": CRAWLERS,
            "indexers": INDEXERS,
            "sources": 2 + GENERATED_SITES,
        },
        "params": {"pages_per_generated_site": args.pages, "page_delay": args.page_delay},
        **asdict(report),
        "green": report.green,
    }
    out.write_text(json.dumps(data, indent=2))
    print(f"wrote {out}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reliability.cluster", description=__doc__)
    parser.add_argument("--pages", type=int, default=100, help="stories per generated site")
    parser.add_argument(
        "--page-delay",
        type=float,
        default=7.0,
        help="seconds per story page: the crawl must outlast the three faults",
    )
    parser.add_argument("--down", type=float, default=10.0, help="seconds each victim stays down")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds between faults")
    parser.add_argument("--timeout", type=float, default=420.0, help="seconds to index it all")
    parser.add_argument("--startup-timeout", type=float, default=300.0)
    parser.add_argument("--work-dir", type=Path, default=ARTIFACTS / "cluster-run")
    parser.add_argument("--keep", action="store_true", help="keep the work dir of a green run")
    parser.add_argument("--out", type=Path, default=ARTIFACTS / "cluster.json")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    report = Report()
    run = Run(args)
    try:
        run.start()
        began = time.monotonic()
        run.wait_for_articles(20, timeout=300)
        report.faults = run.faults()
        run.finish(report, began)
    except RuntimeError as exc:
        report.problems.append(str(exc))
    finally:
        if run.watch is not None:
            report.rss_mb = {k: round(v / 1024, 1) for k, v in run.watch.rss_kb.items()}
        run.close()
    _print(report)
    _write(args.out, report, args)
    if report.green and not args.keep:
        shutil.rmtree(args.work_dir, ignore_errors=True)
    elif not report.green:
        print(f"logs kept in {args.work_dir}", file=sys.stderr)
    return 0 if report.green else 1


if __name__ == "__main__":
    sys.exit(main())
