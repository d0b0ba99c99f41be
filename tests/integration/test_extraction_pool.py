"""The extraction pool stays warm between passes and still ends with the crawler.

A polling crawler makes one Scrapy crawl per pass; each opens and closes the pipeline,
so the pool is acquired and released once per pass. Its workers must survive the
release (the next pass would otherwise pay for starting them: imports, the language
model) and must not survive the process, whether it exits or is killed with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from newsagg.crawler.extraction_pool import ExtractionPool
from newsagg.crawler.worker_preload import _SAMPLE
from support.servers import wait_until

from reliability.processes import alive

pytestmark = pytest.mark.slow  # starts a forkserver and workers: seconds of CPU

CRAWLER = textwrap.dedent(
    """
    import sys, time
    from newsagg.crawler.extraction_pool import ExtractionPool
    pool = ExtractionPool(2)
    pool.acquire()
    while len(pool.worker_pids) < 2:
        time.sleep(0.05)
    pool.release()  # a pass ended: the workers stay
    print(" ".join(map(str, sorted(pool.worker_pids))), flush=True)
    if sys.argv[1] == "wait":
        time.sleep(600)
    """
)


def _workers_of_a_crawler(mode: str) -> tuple[subprocess.Popen[str], list[int]]:
    crawler = subprocess.Popen(
        [sys.executable, "-c", CRAWLER, mode], stdout=subprocess.PIPE, text=True
    )
    assert crawler.stdout is not None
    line = crawler.stdout.readline()
    workers = [int(pid) for pid in line.split()]
    assert len(workers) == 2, f"no worker pids from the crawler: {line!r}"
    return crawler, workers


def test_the_workers_live_across_passes_in_one_process():
    pool = ExtractionPool(2)
    try:
        pool.acquire()
        wait_until(lambda: len(pool.worker_pids) == 2, 60, "both workers started at acquire")
        first = pool.worker_pids
        pool.release()
        assert pool.users == 0
        time.sleep(0.5)
        assert pool.worker_pids == first, "a released pool kept its workers"
        pool.acquire()
        assert pool.worker_pids == first, "the next pass got the same warm workers"
        pool.release()
    finally:
        pool.shutdown()
    assert not pool.worker_pids


def test_the_preloads_warm_up_page_runs_the_whole_extraction():
    """The forkserver's warm-up page is an article (language and date found), so the
    preload goes through every step a real page takes, not out at an early error."""
    from newsagg.crawler.extraction import extract_article

    article = extract_article(_SAMPLE, url="http://127.0.0.1/warm-up", source="warm-up")
    assert article.language == "en"
    assert article.published_at is not None


@pytest.mark.parametrize("mode", ["exit", "wait"])
def test_the_workers_end_with_the_crawler(mode: str):
    """A crawler that exits (no shutdown called) or is killed with SIGKILL takes its
    warm workers along within seconds."""
    crawler, workers = _workers_of_a_crawler(mode)
    try:
        assert all(alive(pid) for pid in workers)
        if mode == "wait":
            crawler.send_signal(signal.SIGKILL)
        crawler.wait(timeout=60)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(alive(pid) for pid in workers):
            time.sleep(0.1)
        assert not [pid for pid in workers if alive(pid)], "workers outlived the crawler by 5 s"
    finally:
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if crawler.poll() is None:
            crawler.kill()
