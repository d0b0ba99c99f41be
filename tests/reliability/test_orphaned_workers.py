"""Issue 12, defect 4: a crawler killed with SIGKILL takes its extraction workers along.

A real `newsagg crawl` on a slow local site, killed while its workers extract; no
process it started may outlive it by more than a few seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.servers import wait_until

from reliability.processes import alive, command_line, descendants
from reliability.site import MissingBenchmark, NewsSite, load_stories

pytestmark = pytest.mark.e2e


def test_extraction_workers_die_with_a_killed_crawler(tmp_path: Path):
    try:
        site = NewsSite(load_stories(12), delay=1.0).start()
    except MissingBenchmark as exc:
        pytest.skip(str(exc))
    (tmp_path / "sources.yaml").write_text(site.sources_yaml())
    env = {
        **os.environ,
        "NEWSAGG_DATA_DIR": str(tmp_path),
        "NEWSAGG_SOURCES": str(tmp_path / "sources.yaml"),
        "NEWSAGG_CRAWLER_METRICS_PORT": "0",
    }
    with (tmp_path / "crawl.log").open("wb") as log:
        crawler = subprocess.Popen(
            [sys.executable, "-m", "newsagg.cli.main", "crawl"], env=env, stdout=log, stderr=log
        )
    started: list[int] = []
    try:
        wait_until(
            lambda: any(
                status == 200 and path.startswith("/articles/")
                for path, status in list(site.served)
            ),
            60,
            "an article fetched, so extraction is under way",
        )
        wait_until(
            lambda: (
                len([p for p in descendants(crawler.pid) if "forkserver" in command_line(p)]) >= 2
            ),
            60,
            "the forkserver and an extraction worker",
        )
        started = descendants(crawler.pid)
        crawler.send_signal(signal.SIGKILL)
        crawler.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(alive(p) for p in started):
            time.sleep(0.1)
        survivors = [command_line(p) for p in started if alive(p)]
        assert not survivors, f"outlived the crawler by 5s: {survivors}"
    finally:
        for pid in started:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if crawler.poll() is None:
            crawler.kill()
        site.stop()
