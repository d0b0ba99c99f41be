"""The extraction pool stays warm between passes and still ends with the crawler.

A polling crawler makes one Scrapy crawl per pass; each opens and closes the pipeline,
so the pool is acquired and released once per pass. Its workers must survive the
release (the next pass would otherwise pay for starting them: imports, the language
model) and must not survive the process, whether it exits or is killed with SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

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


DEADLINES = textwrap.dedent(
    """
    import json, os, time
    from concurrent.futures.process import BrokenProcessPool
    from twisted.internet import defer, reactor, task
    from newsagg.crawler.extraction_pool import ExtractionPool, ExtractionTimeout

    def outcome(deferred, started):
        done = defer.Deferred()
        def settle(result):
            kind = type(result.value).__name__ if hasattr(result, "value") else "ok"
            done.callback([kind, round(time.monotonic() - started, 2)])
        deferred.addBoth(settle)
        return done

    @defer.inlineCallbacks
    def main():
        out = {}
        pool = ExtractionPool(int(os.environ["WORKERS"]))
        pool.acquire()
        while len(pool.worker_pids) < pool.workers:
            yield task.deferLater(reactor, 0.05, lambda: None)
        out["before"] = sorted(pool.worker_pids)
        started = time.monotonic()
        if os.environ["CASE"] == "stuck":
            stuck = pool.submit(time.sleep, 600, timeout=1.0)
            beside = pool.submit(time.sleep, 3, timeout=30.0)  # the other worker's page
            waiting = [pool.submit(os.getpid, timeout=30.0) for _ in range(4)]
            out["stuck"] = yield outcome(stuck, started)
            out["beside"] = yield outcome(beside, started)
            out["waiting"] = []
            for call in waiting:
                out["waiting"].append((yield outcome(call, started))[0])
            after = time.monotonic()
            out["after"] = yield outcome(pool.submit(os.getpid, timeout=30.0), after)
            out["pid_after"] = yield pool.submit(os.getpid, timeout=30.0)
        else:  # queued behind a slow page on the one worker: its clock waits
            slow = pool.submit(time.sleep, 1.6, timeout=10.0)
            # the executor hands a worker's next calls over early (Python 3.11: the
            # worker's and the call queue's two): those are on the clock already
            next_in_line = [pool.submit(os.getpid, timeout=10.0) for _ in range(2)]
            queued = pool.submit(os.getpid, timeout=1.0)
            out["slow"] = yield outcome(slow, started)
            out["next"] = []
            for call in next_in_line:
                out["next"].append((yield outcome(call, started))[0])
            out["queued"] = yield outcome(queued, started)
            out["pids"] = sorted(pool.worker_pids)
        pool.release()
        pool.shutdown()
        print(json.dumps(out), flush=True)
        reactor.stop()

    reactor.callWhenRunning(main)
    reactor.run()
    """
)


def _deadlines(case: str, workers: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", DEADLINES],
        env={**os.environ, "CASE": case, "WORKERS": str(workers)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_page_past_its_deadline_fails_and_the_workers_are_replaced():
    """A stuck extraction fails at its deadline instead of holding its pass open for ever;
    every worker is killed (the stuck one cannot be told apart), the pages beside it and
    behind it fail as with a dead worker (the pipeline tries such pages again), and the
    renewed pool extracts."""
    out = _deadlines("stuck", 2)
    kind, seconds = out["stuck"]
    assert kind == "ExtractionTimeout"
    assert 1.0 <= seconds < 10, out
    assert out["beside"][0] == "BrokenProcessPool", out
    # handed over or still queued when the pool was shut down (cancelled: before, such a
    # call's Deferred never fired, and its pass never ended)
    assert out["waiting"] == ["BrokenProcessPool"] * 4, out
    assert out["after"][0] == "ok", out
    assert out["pid_after"] not in out["before"], "the renewed pool has new workers"
    assert not any(alive(pid) for pid in out["before"]), "the old workers are gone"


def test_a_page_waiting_for_a_worker_is_not_on_the_clock():
    """One worker busy for 1.6 s, pages next in line, and one more page with a 1 s
    deadline waiting behind them all: its deadline starts again while it waits, and it
    is extracted."""
    out = _deadlines("queued", 1)
    assert out["slow"][0] == "ok", out
    assert out["next"] == ["ok", "ok"], out
    assert out["queued"][0] == "ok", out
    assert out["queued"][1] >= 1.6, out
