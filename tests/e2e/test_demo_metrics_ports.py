"""`newsagg demo` while another program holds the default metrics ports 9101 and 9102: it
comes up anyway, on free ports it prints, and each serves its own service's series."""

from __future__ import annotations

import contextlib
import re
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.pipeline import INDEXING_TIMEOUT
from support.servers import Service, free_port, wait_until

pytestmark = pytest.mark.e2e
DEFAULT_PORTS = (9101, 9102)


@pytest.fixture
def defaults_taken() -> Iterator[None]:
    """9101 and 9102 held by 'another program' (this test, or whoever holds them now)."""
    with contextlib.ExitStack() as stack:
        for port in DEFAULT_PORTS:
            holder = stack.enter_context(socket.socket())
            with contextlib.suppress(OSError):  # already taken by someone else: as good
                holder.bind(("127.0.0.1", port))
                holder.listen()
        yield


def metric_names(url: str) -> set[str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1] != "#"}


def test_the_demo_comes_up_with_the_default_metrics_ports_taken(
    defaults_taken: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    for variable in ("NEWSAGG_CRAWLER_METRICS_PORT", "NEWSAGG_INDEXER_METRICS_PORT"):
        monkeypatch.delenv(variable, raising=False)  # the defaults, not a port the user chose
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    env = {"NEWSAGG_DATA_DIR": str(tmp_path / "data"), "NEWSAGG_API_PORT": str(free_port())}
    demo = Service(["demo"], env, log_dir)
    try:
        wait_until(
            lambda: "newsagg is up" in demo.log() or not demo.running,
            INDEXING_TIMEOUT,
            "the demo's banner",
        )
        log = demo.log()
        assert demo.running, log[-3000:]
        crawler = re.search(r"crawler (http://127\.0\.0\.1:(\d+)/metrics)", log)
        indexer = re.search(r"indexer (http://127\.0\.0\.1:(\d+)/metrics)", log)
        assert crawler, log[-3000:]
        assert indexer, log[-3000:]
        assert int(crawler[2]) not in DEFAULT_PORTS
        assert int(indexer[2]) not in DEFAULT_PORTS
        assert "newsagg_crawler_sources" in wait_until(
            lambda: metric_names(crawler[1]), 30, "the crawler's metrics"
        )
        indexer_names = metric_names(indexer[1])
        assert "newsagg_indexer_batches_total" in indexer_names
        assert not any(name.startswith("newsagg_crawler_") for name in indexer_names)
        assert "Address already in use" not in demo.log()
        assert "restarting in" not in demo.log()
    finally:
        assert demo.stop() == 0, demo.log()[-3000:]
