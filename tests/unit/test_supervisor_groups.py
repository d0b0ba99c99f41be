"""Issue 12, defect 4: `up` takes a service's whole process group with it."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from newsagg.cli import supervisor
from newsagg.cli.supervisor import Supervisor

# A service that ignores SIGTERM and starts a helper that ignores it too, as a stalled
# crawler with its extraction workers does; it writes the helper's pid to a file.
STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
helper = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
open(sys.argv[1], "w").write(str(helper.pid))
time.sleep(600)
"""
CRASHING = """
import subprocess, sys, time
helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
open(sys.argv[1], "a").write(f"{helper.pid}\\n")
time.sleep(0.5)
raise SystemExit(1)
"""


def gone(pid: int) -> bool:
    """Dead and reaped, or a zombie nobody has reaped yet."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def wait_for_pids(path: Path) -> list[int]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if path.exists() and (text := path.read_text().strip()):
            return [int(line) for line in text.splitlines()]
        time.sleep(0.1)
    raise AssertionError(f"no pid written to {path}")


def reap(pids: list[int]) -> None:
    for pid in pids:
        if not gone(pid):
            os.kill(pid, signal.SIGKILL)


def test_a_service_given_up_on_is_killed_with_its_whole_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(supervisor, "GRACE_SECONDS", 1.0)
    pid_file = tmp_path / "helper.pid"
    up = Supervisor(commands={"stalled": [sys.executable, "-c", STUBBORN, str(pid_file)]})
    helpers: list[int] = []

    def stop_when_started() -> None:
        helpers.extend(wait_for_pids(pid_file))
        up._request_stop(signal.SIGTERM, None)

    threading.Thread(target=stop_when_started, daemon=True).start()
    try:
        assert up.run() == 0
        assert up.children[0].process.returncode == -signal.SIGKILL
        time.sleep(0.2)
        assert helpers
        assert all(gone(pid) for pid in helpers), "the stalled service's helper outlived `up`"
    finally:
        reap(helpers)


def test_a_crashed_service_leaves_nothing_running(tmp_path: Path):
    pid_file = tmp_path / "helpers"
    up = Supervisor(commands={"crashing": [sys.executable, "-c", CRASHING, str(pid_file)]})
    threading.Timer(2.5, lambda: up._request_stop(signal.SIGTERM, None)).start()
    helpers: list[int] = []
    try:
        assert up.run() == 0
        helpers = wait_for_pids(pid_file)
        time.sleep(0.2)
        survivors = [pid for pid in helpers if not gone(pid)]
        # the helper of the run still going when `up` stopped goes with the stop
        assert not survivors, f"left running by a crashed service: {survivors}"
    finally:
        reap(helpers)
