"""NEWSAGG_API_WORKERS: how many processes serve the API, and what they share.

The count is decided from the settings (one per core by default, one with a rate limit);
a real `newsagg api` with two workers serves on one port, its /metrics counts the
requests of both, and SIGTERM stops the whole tree.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest
from newsagg.api.service import worker_count
from newsagg.core.adapters import open_store
from newsagg.core.article import Article
from newsagg.core.settings import Settings
from pydantic import ValidationError
from support.servers import free_port, wait_until

START_S = 180  # two spawned workers import the app; on a busy machine that takes a while


def test_workers_default_to_one_per_usable_core(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2}, raising=False)
    assert worker_count(Settings()) == 3
    assert worker_count(Settings(api_workers=2)) == 2


def test_a_rate_limit_means_one_worker_and_refuses_more():
    assert worker_count(Settings(api_rate_limit=5)) == 1
    assert worker_count(Settings(api_rate_limit=5, api_workers=1)) == 1
    with pytest.raises(ValueError, match="rate limit is kept per process"):
        worker_count(Settings(api_rate_limit=5, api_workers=2))


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NEWSAGG_API_WORKERS", "4")
    assert Settings().api_workers == 4
    monkeypatch.setenv("NEWSAGG_API_WORKERS", "-1")
    with pytest.raises(ValidationError):
        Settings()


def workers_of(parent: psutil.Process) -> list[psutil.Process]:
    """uvicorn's spawned workers (not multiprocessing's resource tracker)."""
    found = []
    for child in parent.children():
        try:
            if any("spawn_main" in part for part in child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def metric(text: str, name: str, labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(part in line for part in labels.split(",")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@dataclass
class TwoWorkers:
    port: int
    api: subprocess.Popen[bytes]
    workers: list[psutil.Process]
    log: Path


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[TwoWorkers]:
    """`newsagg api` with NEWSAGG_API_WORKERS=2 on a small index, both workers serving."""
    index = tmp_path / "index"
    writer = open_store(f"tantivy:///{index}", writable=True)
    writer.ensure_schema()
    writer.upsert(
        [
            Article.create(
                url=f"https://news.example/{i}",
                source="marquee",
                title=f"Milind Soman cycles north, day {i}",
                text="A roadside romance, 150 km a day.",
                published_at=datetime(2026, 9, 6, tzinfo=UTC),
                date_source="meta",
            )
            for i in range(3)
        ]
    )
    writer.close()
    port = free_port()
    env = {
        **os.environ,
        "NEWSAGG_STORE_URL": f"tantivy:///{index}",
        "NEWSAGG_API_PORT": str(port),
        "NEWSAGG_API_WORKERS": "2",
        "NEWSAGG_DATA_DIR": str(tmp_path),
        "NEWSAGG_SOURCES": str(tmp_path / "none.yaml"),
    }
    log = tmp_path / "api.log"
    with log.open("wb") as out:
        api = subprocess.Popen(
            [sys.executable, "-m", "newsagg.cli.main", "api"], env=env, stdout=out, stderr=out
        )
    workers: list[psutil.Process] = []
    try:
        wait_until(
            lambda: log.read_text().count("Application startup complete") == 2,
            START_S,
            "both workers to start",
        )
        workers = workers_of(psutil.Process(api.pid))
        assert len(workers) == 2, log.read_text()
        yield TwoWorkers(port, api, workers, log)
    finally:
        if api.poll() is None:
            api.send_signal(signal.SIGTERM)
            api.wait(timeout=60)
        for worker in workers:  # what a failed test left running
            with contextlib.suppress(psutil.NoSuchProcess):
                worker.kill()


def test_two_workers_share_the_port_and_their_metrics(two_workers: TwoWorkers):
    base = f"http://127.0.0.1:{two_workers.port}"
    for _ in range(12):  # a connection each, so either worker may take it
        with urllib.request.urlopen(f"{base}/v1/search?q=Soman", timeout=30) as response:
            assert response.status == 200
    for _ in range(4):  # whichever worker answers the scrape, it counts both workers'
        with urllib.request.urlopen(f"{base}/metrics", timeout=30) as response:
            text = response.read().decode()
        assert metric(text, "newsagg_api_requests_total", 'route="/v1/search",status="200"') == 12
        assert "process_resident_memory_bytes" in text
    two_workers.api.send_signal(signal.SIGTERM)
    assert two_workers.api.wait(timeout=60) == 0, two_workers.log.read_text()
    alive = psutil.wait_procs(two_workers.workers, timeout=30)[1]
    assert alive == [], "workers outlived the API process"


def test_workers_stop_when_their_parent_is_killed(two_workers: TwoWorkers):
    """kill -9 of the parent (the reliability harness does it): its workers must not go on
    serving the port unsupervised."""
    two_workers.api.send_signal(signal.SIGKILL)
    two_workers.api.wait(timeout=30)
    alive = psutil.wait_procs(two_workers.workers, timeout=60)[1]
    assert alive == [], "workers outlived their killed parent"


def test_several_workers_with_a_rate_limit_are_refused_at_start(tmp_path: Path):
    env = {
        **os.environ,
        "NEWSAGG_API_WORKERS": "2",
        "NEWSAGG_API_RATE_LIMIT": "5",
        "NEWSAGG_DATA_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "newsagg.cli.main", "api"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "rate limit is kept per process" in done.stderr
