"""The search API over HTTP next to the store it serves, on an index of generated articles.

.venv/bin/python bench/api.py [--docs 1000000] [--quick]

A real `newsagg api` (a child process, its workers included) serves the shared index of
bench/corpus.py (`ensure_index`, reused under .cache/bench/). For each editor query kind
of issue 16 the same question is timed on the store in this process and through the API
over one keep-alive HTTP connection, alternately in one loop so both see the same
neighbours: API p50 / store p50. Then Debian's wrk (`make reliability-tools`) mixes every
kind's URL at 1 and at 16 connections (req/s, the concurrency target) and for a longer
load (errors, p99). The API's process tree is sampled throughout (bench/_measure.py):
peak RSS and CPU seconds. The full run also runs the API as it was before issue 16
(one process, NEWSAGG_API_WORKERS=1) for comparison.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psutil
from _measure import TreeSampler
from _report import report, target
from corpus import CACHE, CORPUS_VERSION, NAMES, SOURCES, _layout, benchmark_pages, ensure_index
from newsagg.api.routes.search import FACET_NAMES
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.cores import available_cores
from newsagg.core.query import parse_query
from newsagg.core.search import (
    Interval,
    SearchQuery,
    Sort,
    apply_cursor,
    encode_cursor,
)

WORD = re.compile(r"[A-Za-z]+")
START_TIMEOUT_S = 180
WARM_PATH = "/v1/search?q=warm&facets="
WRK_TIMEOUT = "10s"


@dataclass(frozen=True)
class Kind:
    """One editor query: the API URL and the store calls the route makes for it."""

    name: str
    path: str
    store_call: Callable[[], object]


def shared_index(n: int) -> Path:
    """An index of n generated articles under .cache/bench/: one another benchmark built (any
    name, if its manifest matches n, corpus and layout), else built here once."""
    wanted = {"n": n, "corpus_version": CORPUS_VERSION, "layout": _layout()}
    for manifest in sorted(CACHE.glob("*.manifest.json")):
        try:
            recorded = json.loads(manifest.read_text())
        except ValueError:
            continue
        index = manifest.with_name(manifest.name.removesuffix(".manifest.json"))
        if all(recorded.get(k) == v for k, v in wanted.items()) and (index / "meta.json").exists():
            return index
    return ensure_index(CACHE / f"index-{n}", n)


def vocabulary() -> tuple[str, str, str]:
    """(common word, three words of one text, a frequent two-word phrase) of the real bodies
    the generated texts are windows of."""
    bodies = [page.body for page in benchmark_pages()]
    words = Counter(w.lower() for body in bodies for w in WORD.findall(body) if len(w) >= 6)
    common = words.most_common(1)[0][0]
    middling = {w for w, _ in words.most_common(500)} - {w for w, _ in words.most_common(50)}
    typical = sorted(bodies, key=len)[len(bodies) // 2]
    own = Counter(w.lower() for w in WORD.findall(typical) if w.lower() in middling)
    three = " ".join(w for w, _ in own.most_common(3))
    pairs: Counter[str] = Counter()
    for body in bodies:
        tokens = WORD.findall(body)
        pairs.update(f"{a} {b}" for a, b in pairwise(tokens) if min(len(a), len(b)) >= 4)
    return common, three, pairs.most_common(1)[0][0]


def search_path(params: dict[str, Any]) -> str:
    """The API path of the store call it is compared with: uncollapsed, as the store's
    SearchQuery is by default (the API folds copies unless told `collapse=none`)."""
    return "/v1/search?" + urlencode({**params, "collapse": "none"}, doseq=True)


def editor_kinds(store: TantivyStore, depth: int) -> list[Kind]:
    """Each kind as the API route builds it (routes/search.py, routes/timeline.py)."""
    common, three, phrase = vocabulary()
    sources = [name for name, _ in SOURCES[:3]]
    year = (datetime(2024, 6, 1, tzinfo=UTC), datetime(2025, 5, 31, 23, 59, 59, tzinfo=UTC))

    def searched(q: str, *, facets: tuple[str, ...] = ("source",), **update: Any) -> Kind:
        query = SearchQuery(
            query=parse_query(q), facets=tuple(FACET_NAMES[f] for f in facets), **update
        )
        params: dict[str, Any] = {"q": q, "facets": ",".join(facets)}
        if query.sort != Sort.RELEVANCE:
            params["sort"] = query.sort.value
        return Kind("", search_path(params), lambda: store.search(query))

    kinds = {
        "rare terms": searched(NAMES[5]),
        "common term": searched(common),
        "three words": searched(three),
        "phrase": searched(f'"{phrase}"'),
    }
    filtered = SearchQuery(
        query=parse_query(common),
        sources=tuple(sources),
        languages=("en",),
        published_from=year[0],
        published_to=year[1],
        sort=Sort.DATE,
        facets=(),
    )
    params = {
        "q": common,
        "sources": sources,
        "language": "en",
        "from": "2024-06-01",
        "to": "2025-05-31",
        "sort": "date",
        "facets": "",
    }
    kinds["filters + date sort"] = Kind("", search_path(params), lambda: store.search(filtered))
    kinds["facets"] = searched(common, facets=tuple(FACET_NAMES))
    counting = SearchQuery(query=parse_query(common), size=0, facets=())
    kinds["timeline"] = Kind(
        "",
        "/v1/timeline?" + urlencode({"q": common, "interval": "week"}),
        lambda: (store.search(counting), store.timeline(counting, Interval.WEEK)),
    )
    base = SearchQuery(query=parse_query(common), sort=Sort.DATE, facets=())
    depth = max(100, min(depth, store.search(counting).total // 2 // 100 * 100))
    before = base.model_copy(update={"size": 100, "offset": depth - 100})
    cursor = encode_cursor(before, store.search(before))
    assert cursor is not None, f"fewer than {depth} matches of {common!r}"
    deep = apply_cursor(base, cursor)
    kinds[f"deep cursor ({depth})"] = Kind(
        "",
        search_path({"q": common, "sort": "date", "facets": "", "cursor": cursor}),
        lambda: store.search(deep),
    )
    return [Kind(name, kind.path, kind.store_call) for name, kind in kinds.items()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Api:
    port: int
    process: subprocess.Popen[bytes]
    sampler: TreeSampler
    workers: int


@contextmanager
def running_api(index: Path, workers: int, log: Path) -> Iterator[Api]:
    """`newsagg api` on the index (workers=0: its default), once every worker serves and
    has opened the index."""
    port = free_port()
    env = {
        **os.environ,
        "NEWSAGG_STORE_URL": f"tantivy:///{index.resolve()}",
        "NEWSAGG_API_PORT": str(port),
        "NEWSAGG_API_WORKERS": str(workers),
        "NEWSAGG_DATA_DIR": str(log.parent),
        "NEWSAGG_SOURCES": str(log.parent / "no-sources.yaml"),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "newsagg.cli.main", "api"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    expected = workers or available_cores()  # as the API sizes itself
    try:
        with TreeSampler(process.pid) as sampler:
            deadline = time.monotonic() + START_TIMEOUT_S
            while log.read_text().count("Application startup complete") < expected:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"newsagg api did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.2)
            api = Api(port, process, sampler, expected)
            warm_every_worker(api, index, WARM_PATH)
            yield api
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def maps_index(process: psutil.Process, index: Path) -> bool:
    """The process has the index's files mapped: its store has opened the index."""
    prefix = str(index.resolve())
    try:
        return any(m.path.startswith(prefix) for m in process.memory_maps())
    except psutil.NoSuchProcess:
        return False


def warm_every_worker(api: Api, index: Path, path: str) -> None:
    """Search until every worker has opened the index. A worker opens it on its first
    search and checks every file against its checksum first (~1.3 CPU-s and 2.5 GB read at
    1M articles): a worker still cold when a timed run starts would spend seconds of it
    inside the run. One keep-alive connection stays on one worker, so fresh connections
    are opened, several at once, until the kernel has handed some to each worker."""
    root = psutil.Process(api.process.pid)
    workers = [  # uvicorn's spawned workers, not multiprocessing's resource tracker
        child for child in root.children() if any("spawn_main" in a for a in child.cmdline())
    ] or [root]

    def fresh_get(_: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=START_TIMEOUT_S)
        try:
            get(connection, path)
        finally:
            connection.close()

    deadline = time.monotonic() + START_TIMEOUT_S
    while not all(maps_index(worker, index) for worker in workers):
        if time.monotonic() > deadline:
            raise RuntimeError(f"not every API worker opened {index} in {START_TIMEOUT_S} s")
        with ThreadPoolExecutor(2 * len(workers)) as pool:
            list(pool.map(fresh_get, range(2 * len(workers))))


def get(connection: http.client.HTTPConnection, path: str) -> bytes:
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status} {body[:300]!r}")
    return body


def threaded_store_rate(kinds: list[Kind], calls: int, threads: int) -> float:
    """Store calls per second (every kind in turn) from `threads` threads of this process:
    whether the store's searches run in parallel in one process, i.e. what tantivy's
    bindings do with the GIL (they release it while tantivy searches and aggregates; the
    snippets, documents and models around that hold it)."""
    per_thread = max(1, calls // threads)

    def run(offset: int) -> None:
        for i in range(per_thread):
            kinds[(offset + i) % len(kinds)].store_call()

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(run, range(threads)))
    return per_thread * threads / (time.perf_counter() - started)


def tree_cpu_s(root: psutil.Process) -> float:
    """user+sys seconds of a process and its live children (the API's workers)."""
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def latencies(api: Api, kinds: list[Kind], repeat: int) -> list[dict[str, Any]]:
    """Per kind, on the store and through the API, timed alternately: p50 wall time, and
    CPU per request (the steadier figure on a busy machine): the store's over this process
    (a faceted search's facet pass runs on a second thread; this process's sampler of the
    API's tree, every 0.1 s, adds a little), the API's over its whole process tree."""
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=60)
    root = psutil.Process(api.process.pid)
    store_ms: dict[str, list[float]] = {k.name: [] for k in kinds}
    api_ms: dict[str, list[float]] = {k.name: [] for k in kinds}
    store_cpu = dict.fromkeys(store_ms, 0.0)
    api_cpu = dict.fromkeys(store_ms, 0.0)
    for kind in kinds:  # warm both: the first call pays the page cache and the reload
        kind.store_call()
        get(connection, kind.path)
    for _ in range(repeat):
        for kind in kinds:
            cpu, started = time.process_time(), time.perf_counter()
            kind.store_call()
            store_ms[kind.name].append((time.perf_counter() - started) * 1000)
            store_cpu[kind.name] += time.process_time() - cpu
            cpu, started = tree_cpu_s(root), time.perf_counter()
            get(connection, kind.path)
            api_ms[kind.name].append((time.perf_counter() - started) * 1000)
            api_cpu[kind.name] += tree_cpu_s(root) - cpu
    connection.close()
    rows = []
    for kind in kinds:
        store_p50 = statistics.median(store_ms[kind.name])
        api_p50 = statistics.median(api_ms[kind.name])
        rows.append(
            {
                "measure": f"p50 ms, {kind.name}",
                "API": api_p50,
                "store": store_p50,
                "API / store": api_p50 / store_p50,
            }
        )
        store_cpu_ms = store_cpu[kind.name] / repeat * 1000
        api_cpu_ms = api_cpu[kind.name] / repeat * 1000
        rows.append(
            {
                "measure": f"CPU ms per request (mean), {kind.name}",
                "API": api_cpu_ms,
                "store": store_cpu_ms,
                "API / store": api_cpu_ms / store_cpu_ms if store_cpu_ms else "",
            }
        )
    return rows


@dataclass(frozen=True)
class WrkRun:
    requests_per_s: float
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    cores_busy: float
    """CPU seconds of the API's process tree per second of the run: how many cores it got
    (on a machine busy with other work, fewer than it could use)."""


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(api: Api, kinds: list[Kind], connections: int, seconds: float, workdir: Path) -> WrkRun:
    """wrk with every kind's URL in turn (a Lua script), its latency distribution read back."""
    if shutil.which("wrk") is None:
        raise SystemExit("bench/api.py needs wrk: run `make reliability-tools` (Debian's wrk)")
    script = workdir / "mix.lua"
    paths = ", ".join(f'"{kind.path}"' for kind in kinds)
    script.write_text(
        f"local paths = {{{paths}}}\nlocal i = 0\n"
        "request = function()\n  i = i + 1\n"
        '  return wrk.format("GET", paths[(i % #paths) + 1])\nend\n'
    )
    threads = min(connections, 2)
    root = psutil.Process(api.process.pid)
    cpu, started = tree_cpu_s(root), time.perf_counter()
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            f"--timeout={WRK_TIMEOUT}",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{api.port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cores_busy = (tree_cpu_s(root) - cpu) / (time.perf_counter() - started)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    percentiles = dict(re.findall(r"^\s+(\d+)%\s+([\d.]+\w+)", out, re.MULTILINE))
    if rate is None or total is None or "50" not in percentiles or "99" not in percentiles:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(non_2xx.group(1)) if non_2xx else 0

    def parse(text: str) -> float:
        match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
        assert match, text
        return _ms(*match.groups())

    return WrkRun(
        float(rate.group(1)),
        int(total.group(1)),
        errors,
        parse(percentiles["50"]),
        parse(percentiles["99"]),
        cores_busy,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small index, short runs (< 20 s)")
    parser.add_argument("--docs", type=int, help="articles in the index (1,000,000; quick 3,000)")
    parser.add_argument("--repeat", type=int, help="timings per query kind (40; quick 5)")
    parser.add_argument("--rate-seconds", type=float, help="each req/s run (15; quick 1)")
    parser.add_argument("--load-seconds", type=float, help="the wrk load (60; quick 3)")
    args = parser.parse_args()
    quick = args.quick
    docs = args.docs or (3_000 if quick else 1_000_000)
    repeat = args.repeat or (5 if quick else 40)
    rate_s = args.rate_seconds or (1.0 if quick else 15.0)
    load_s = args.load_seconds or (3.0 if quick else 60.0)
    depth = 10_000  # or half the matches, on a small index
    index = shared_index(docs)
    store = TantivyStore(index, writable=False)
    kinds = editor_kinds(store, depth)
    for kind in kinds:
        kind.store_call()  # warm
    calls = len(kinds) * (3 if quick else 12)
    one_thread = threaded_store_rate(kinds, calls, 1)
    two_threads = threaded_store_rate(kinds, calls, 2)
    rows: list[dict[str, Any]] = [
        {
            "API process": "(none: store in this process)",
            "measure": f"store calls/s, {n} thread{'s' if n > 1 else ''} (kinds in turn)",
            "API": "",
            "store": rate,
            "API / store": "",
        }
        for n, rate in ((1, one_thread), (2, two_threads))
    ]
    configs = [0] if quick else [1, 0]  # 1: one process, as before issue 16; 0: the default
    summary: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        workdir = Path(tmp)
        for workers in configs:
            with running_api(index, workers, workdir / f"api-{workers}.log") as api:
                label = f"{api.workers} worker" + ("s" if api.workers > 1 else "")
                measured = latencies(api, kinds, repeat)
                one = wrk(api, kinds, 1, rate_s, workdir)
                sixteen = wrk(api, kinds, 16, rate_s, workdir)
                load = wrk(api, kinds, 16, load_s, workdir) if workers == 0 else None
                cpu_s, peak_rss_mb = api.sampler.result()
            rows.extend({"API process": label, **row} for row in measured)
            summary[workers] = {
                "label": label,
                "one": one,
                "sixteen": sixteen,
                "load": load,
                "rss": peak_rss_mb,
                "cpu_s": cpu_s,
                "worst": max(
                    (r for r in measured if r["measure"].startswith("p50")),
                    key=lambda r: r["API / store"],
                ),
            }
            figures = {
                "req/s, 1 client (wrk, kinds mixed)": one.requests_per_s,
                "API cores busy, 1 client": one.cores_busy,
                "req/s, 16 clients": sixteen.requests_per_s,
                "API cores busy, 16 clients": sixteen.cores_busy,
                "p99 ms, 16 clients": sixteen.p99_ms,
                "peak RSS MB, API process tree": peak_rss_mb,
                "CPU s, API process tree": cpu_s,
            }
            if load is not None:
                figures |= {
                    f"req/s, {load_s:.0f} s load": load.requests_per_s,
                    f"p50 ms, {load_s:.0f} s load": load.p50_ms,
                    f"p99 ms, {load_s:.0f} s load": load.p99_ms,
                    f"errors, {load_s:.0f} s load": float(load.errors),
                    f"API cores busy, {load_s:.0f} s load": load.cores_busy,
                }
            rows.extend(
                {
                    "API process": label,
                    "measure": measure,
                    "API": value,
                    "store": "",
                    "API / store": "",
                }
                for measure, value in figures.items()
            )
    store.close()
    now = summary[0]
    load = now["load"]
    assert load is not None
    targets = [
        target(
            f"API req/s, 16 clients / 1 client ({now['label']})",
            now["sixteen"].requests_per_s / now["one"].requests_per_s,
            ">= 1.8",
            newsagg=f"{now['sixteen'].requests_per_s:.1f} req/s "
            f"({now['sixteen'].cores_busy:.2f} cores busy)",
            peer=f"{now['one'].requests_per_s:.1f} req/s ({now['one'].cores_busy:.2f} cores busy)",
        ),
        target(
            f"API p50 / store p50, worst kind ({now['worst']['measure'].removeprefix('p50 ms, ')})",
            now["worst"]["API / store"],
            "<= 1.3",
            newsagg=f"{now['worst']['API']:.1f} ms",
            peer=f"{now['worst']['store']:.1f} ms",
        ),
        target(
            f"API errors, wrk {load_s:.0f} s at 16 connections",
            float(load.errors),
            "== 0",
            newsagg=f"{load.requests} requests",
        ),
        target(f"API p99 ms, wrk {load_s:.0f} s load", load.p99_ms, ""),
        target(f"API peak RSS MB ({now['label']})", now["rss"], ""),
    ]
    targets.append(
        target("store calls/s, 2 threads / 1 thread (one process)", two_threads / one_thread, "")
    )
    if 1 in summary:
        before = summary[1]
        targets.append(
            target(
                "API req/s at 16 clients, default workers / 1 process",
                now["sixteen"].requests_per_s / before["sixteen"].requests_per_s,
                "",
                newsagg=f"{now['sixteen'].requests_per_s:.1f} req/s",
                peer=f"{before['sixteen'].requests_per_s:.1f} req/s",
            )
        )
        targets.append(target("API peak RSS MB (1 process)", before["rss"], ""))
    report(
        "api",
        rows,
        {
            "docs": docs,
            "repeat": repeat,
            "rate_seconds": rate_s,
            "load_seconds": load_s,
            "quick": quick,
            "kinds": {kind.name: kind.path for kind in kinds},
        },
        targets,
    )


if __name__ == "__main__":
    main()
