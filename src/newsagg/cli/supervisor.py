"""`newsagg up`: the services as child processes, restarted if they crash.

Ctrl-C (SIGINT) or SIGTERM stops them all: each gets SIGTERM and a grace period
to finish its batch or crawl, then SIGKILL.

Each service runs in a process group of its own (the crawler's extraction workers
with it), so one that is given up on, or that crashed, goes with everything it started.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

log = logging.getLogger("newsagg.up")
SERVICES = ("crawl", "index", "alerts", "api")
GRACE_SECONDS = 15.0
MAX_RESTART_DELAY = 30.0
CONFIG_ERROR = 2
"""The exit code of `newsagg` for bad configuration: restarting cannot help."""
DATA_CORRUPTED = 3
"""The exit code of `newsagg` for damaged data: restarting cannot help either."""
INDEX_OUTDATED = 4
"""The exit code of `newsagg` for an index in a layout too old for what was asked: only
the rebuild its message names can help."""
NOT_RESTARTED = {
    DATA_CORRUPTED: "stopped on damaged data; not restarting it: run `newsagg check`"
    " and see docs/runbook.md",
    INDEX_OUTDATED: "stopped on an index too old for this version; not restarting it:"
    " run the command its last log line names",
}


@dataclass
class Child:
    name: str
    command: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = field(default=0.0)


class Supervisor:
    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        commands: Mapping[str, list[str]] | None = None,
    ) -> None:
        self.env = dict(env or os.environ)
        commands = commands or {
            name: [sys.executable, "-m", "newsagg.cli.main", name] for name in SERVICES
        }
        self.children = [Child(name, command) for name, command in commands.items()]
        self.stopping = False
        self.exit_code = 0

    def _start(self, child: Child) -> None:
        child.process = subprocess.Popen(child.command, env=self.env, process_group=0)
        log.info("started %s (pid %d)", child.name, child.process.pid)

    def run(self, on_tick: Callable[[], None] | None = None) -> int:
        """Run until asked to stop; returns the exit code for the shell."""
        previous = {
            s: signal.signal(s, self._request_stop) for s in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            for child in self.children:
                self._start(child)
            while not self.stopping:
                self._restart_crashed()
                if on_tick is not None:
                    on_tick()
                time.sleep(0.5)
        finally:
            self.stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.exit_code

    def _request_stop(self, signum: int, _frame: object) -> None:
        if not self.stopping:
            log.info("%s: stopping all services", signal.Signals(signum).name)
        self.stopping = True

    def _restart_crashed(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.process is None or child.process.poll() is None:
                continue
            if child.process.returncode == CONFIG_ERROR:
                log.error("%s refused its configuration; stopping everything", child.name)
                self.stopping = True
                self.exit_code = CONFIG_ERROR
                return
            if child.process.returncode in NOT_RESTARTED:
                log.error("%s %s", child.name, NOT_RESTARTED[child.process.returncode])
                child.process = None  # left stopped; the others go on (the API reports it)
                continue
            if child.next_start == 0.0:
                _kill_group(child.process)  # whatever the crashed service left running
                delay = min(2.0**child.restarts, MAX_RESTART_DELAY)
                child.next_start = now + delay
                log.warning(
                    "%s exited with %s; restarting in %.0fs",
                    child.name,
                    child.process.returncode,
                    delay,
                )
            elif now >= child.next_start:
                child.restarts += 1
                child.next_start = 0.0
                self._start(child)

    def stop_all(self) -> None:
        running = [c.process for c in self.children if c.process and c.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("pid %d did not stop in %.0fs; killing it", process.pid, GRACE_SECONDS)
                _kill_group(process)
                process.wait()
            _kill_group(process)
        log.info("all services stopped")


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the service's whole process group, leader included (its id is the leader's
    pid, which Linux does not hand out again while the group has members)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
