"""Run newsagg services as real child processes for end-to-end tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(probe: Callable[[], T], timeout: float, what: str, interval: float = 0.2) -> T:
    """Call probe until it returns something truthy; fail with `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except (OSError, ValueError):
            last = None
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def get_json(url: str, timeout: float = 10) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


class Service:
    """One `newsagg <command>` process with its output in a log file."""

    def __init__(self, command: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = command[0]
        self.log_path = log_dir / f"{self.name}.log"
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "newsagg.cli.main", *command],
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 20) -> int:
        if self.running:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode

    def kill9(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self._log.close()

    def stacks(self) -> str:
        """Every thread's Python stack in the process and its children (py-spy), for a
        test that timed out waiting on it: where a stuck service is stuck."""
        spy = Path(sys.executable).with_name("py-spy")
        pids, at = [self.process.pid], 0
        while at < len(pids):  # its children, theirs (the forkserver's workers), and on
            children = Path(f"/proc/{pids[at]}/task/{pids[at]}/children")
            with contextlib.suppress(OSError):
                pids += [int(pid) for pid in children.read_text().split()]
            at += 1
        dumps = []
        for pid in pids:
            try:
                done = subprocess.run(
                    [str(spy), "dump", "--pid", str(pid)],
                    capture_output=True,
                    text=True,
                    timeout=30,
                )
                dumps.append(done.stdout + done.stderr)
            except (OSError, subprocess.TimeoutExpired) as exc:
                dumps.append(f"py-spy dump --pid {pid} failed: {exc}")
        return "\n".join(dumps)
