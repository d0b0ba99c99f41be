"""A metrics port another program holds: the crawler or indexer says so in one line naming
the port and the setting, and exits with the configuration error code, which the
supervisor does not restart (tests/unit/test_supervisor.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from newsagg.cli.supervisor import CONFIG_ERROR

SOURCES = "sources:\n  - name: example\n    feeds: [https://news.example.com/rss.xml]\n"


@pytest.mark.parametrize(
    ("command", "variable"),
    [("crawl", "NEWSAGG_CRAWLER_METRICS_PORT"), ("index", "NEWSAGG_INDEXER_METRICS_PORT")],
)
def test_a_service_given_a_taken_metrics_port_exits_once_with_one_clear_line(
    command: str, variable: str, taken_port: int, tmp_path: Path
):
    (tmp_path / "sources.yaml").write_text(SOURCES)
    run = subprocess.run(
        [sys.executable, "-m", "newsagg.cli.main", command],
        env={
            **os.environ,
            "NEWSAGG_DATA_DIR": str(tmp_path / "data"),
            "NEWSAGG_SOURCES": str(tmp_path / "sources.yaml"),
            "NEWSAGG_METRICS_HOST": "127.0.0.1",
            variable: str(taken_port),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == CONFIG_ERROR, run.stderr
    assert "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if str(taken_port) in line]
    assert len(lines) == 1, run.stderr
    assert f"127.0.0.1:{taken_port}" in lines[0]
    assert "taken by another program" in lines[0]
    assert f"set {variable} to a free port" in lines[0]
    assert not (tmp_path / "data" / "bus.sqlite").exists()  # nothing opened before the check
