"""A short bounded load test of the search API with wrk, on the demo index.

`newsagg demo` on a fresh data dir, wait until its 48 stories are searchable, then
wrk for DURATION seconds with THREADS threads over CONNECTIONS connections against
one search. Green means no socket error and no answer outside 2xx/3xx.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from reliability.pipeline import free_port

DURATION = 10
THREADS = 2
CONNECTIONS = 32
QUERY = "/v1/search?q=Milind+Soman+cycling&facets=source,author"
DEMO_STORIES = 48


@dataclass
class LoadResult:
    url: str
    requests: int
    errors: int
    non_2xx: int
    requests_per_second: float
    latency_p99_ms: float | None
    output: str

    @property
    def green(self) -> bool:
        return self.requests > 0 and self.errors == 0 and self.non_2xx == 0

    def describe(self) -> str:
        return f"wrk {DURATION}s, {THREADS} threads, {CONNECTIONS} connections: /v1/search"

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "green": self.green, "what": self.describe()}


def parse_wrk(output: str, url: str) -> LoadResult:
    """wrk's summary: 'N requests in', 'Socket errors: connect a, read b, write c, timeout d',
    'Non-2xx or 3xx responses: n', 'Requests/sec: r', and with --latency the 99% line."""
    requests = re.search(r"(\d+) requests in", output)
    if requests is None:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    p99_ms = None
    if p99:
        p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return LoadResult(
        url=url,
        requests=int(requests.group(1)),
        errors=sum(int(n) for n in socket_errors.groups()) if socket_errors else 0,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        requests_per_second=float(rate.group(1)) if rate else 0.0,
        latency_p99_ms=p99_ms,
        output=output,
    )


def _indexed(api: str) -> int:
    with (
        contextlib.suppress(OSError, ValueError),
        urllib.request.urlopen(f"{api}/readyz", timeout=2) as response,
    ):
        return json.load(response).get("articles") or 0
    return 0


def load_test(work_dir: Path) -> LoadResult:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("no wrk on PATH: `make reliability-tools` installs Debian's")
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "NEWSAGG_DATA_DIR": str(work_dir / "data"),
        "NEWSAGG_API_PORT": str(port),
        "NEWSAGG_CRAWLER_METRICS_PORT": "0",
        "NEWSAGG_INDEXER_METRICS_PORT": "0",
    }
    with (work_dir / "demo.log").open("wb") as log:
        demo = subprocess.Popen(
            [sys.executable, "-m", "newsagg.cli.main", "demo"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
    try:
        deadline = time.monotonic() + 180
        while _indexed(api) < DEMO_STORIES:
            if time.monotonic() > deadline or demo.poll() is not None:
                raise RuntimeError(f"the demo did not index its stories: see {work_dir}/demo.log")
            time.sleep(0.5)
        url = api + QUERY
        done = subprocess.run(
            [wrk, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{DURATION}s", "--latency", url],
            capture_output=True,
            text=True,
            timeout=DURATION + 60,
            check=False,
        )
        return parse_wrk(done.stdout + done.stderr, url)
    finally:
        demo.send_signal(signal.SIGTERM)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            demo.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(demo.pid, signal.SIGKILL)
        demo.wait()
