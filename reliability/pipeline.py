"""The four services (crawl, index, api, alerts) as real `newsagg` processes for one fault
run, and what they indexed.

Like `newsagg up`, the harness restarts a service that died; unlike `up`, each service
gets an environment of its own (the clock-skew row runs the crawler on another clock).
Every service runs in its own process group, so a stop takes its helpers along.
"""

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
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from reliability.alerts import Receiver
from reliability.processes import command_line, descendants, parent

SERVICES = ("crawl", "index", "api", "alerts")
RESTART_DELAY = 1.0
"""What `newsagg up` waits before the first restart of a service that exited."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Count:
    """What the index holds, against what the site published."""

    expected: int
    indexed: int
    lost: int
    duplicated: int
    ids: frozenset[str] = frozenset()
    """The ids of the expected stories the index holds (what the alerts must deliver)."""

    @property
    def complete(self) -> bool:
        return self.indexed == self.expected and self.lost == 0


class Service:
    """One `newsagg <command>` process (the command is the name unless given), restartable,
    logging to <log_dir>/<name>.log."""

    def __init__(
        self, name: str, env: dict[str, str], log_dir: Path, command: str | None = None
    ) -> None:
        self.name = name
        self.command = command or name
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.died_at: float | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "newsagg.cli.main", self.command],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
            )
        self.died_at = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, then SIGKILL of the whole group after `timeout`."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def restart_if_dead(self) -> bool:
        """Start again RESTART_DELAY seconds after an exit; True when it restarted."""
        if self.process is None or self.process.poll() is None:
            return False
        now = time.monotonic()
        if self.died_at is None:
            self.died_at = now
            with contextlib.suppress(ProcessLookupError):  # its leftovers, as `up` does
                os.killpg(self.process.pid, signal.SIGKILL)
            return False
        if now - self.died_at >= RESTART_DELAY:
            self.start()
            return True
        return False

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Pipeline:
    """crawl + index + api + alerts on one data dir, with the env of the scenario."""

    def __init__(
        self,
        data_dir: Path,
        sources_yaml: str,
        env: dict[str, str] | None = None,
        service_env: dict[str, dict[str, str]] | None = None,
    ) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        (data_dir / "sources.yaml").write_text(sources_yaml)
        self.data_dir = data_dir
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}"
        base = {
            **os.environ,
            "NEWSAGG_DATA_DIR": str(data_dir),
            "NEWSAGG_SOURCES": str(data_dir / "sources.yaml"),
            "NEWSAGG_API_PORT": str(self.port),
            "NEWSAGG_CRAWLER_METRICS_PORT": "0",
            "NEWSAGG_INDEXER_METRICS_PORT": "0",
            "NEWSAGG_INDEXER_MAX_RETRY_DELAY": "2",
            "NEWSAGG_CRAWL_RETRY_BACKOFF": "0.5",
            "NEWSAGG_ALERTS_METRICS_PORT": "0",
            # the webhook receiver is on loopback; the API checks the URL when it is saved
            "NEWSAGG_ALERTS_ALLOW_PRIVATE_WEBHOOKS": "true",
            **(env or {}),
        }
        self.services = {
            name: Service(name, {**base, **(service_env or {}).get(name, {})}, data_dir)
            for name in SERVICES
        }
        self.receiver: Receiver | None = None
        """Where the run's saved search delivers (the receiver-outage rows take it down)."""

    def start(self, names: tuple[str, ...] | None = None) -> Pipeline:
        """Start every service not running, or only those named (the API first: the run's
        saved search is made before the crawl begins)."""
        for name, service in self.services.items():
            if (names is None or name in names) and not service.running():
                service.start()
        return self

    def stop(self) -> None:
        for service in self.services.values():
            service.stop()

    def tend(self, hold: frozenset[str] = frozenset()) -> None:
        """Restart whatever died (but the services in `hold`): the harness is the supervisor."""
        for name, service in self.services.items():
            if name not in hold:
                service.restart_if_dead()

    def extraction_workers(self) -> list[int]:
        """The crawler's extraction processes (children of its forkserver)."""
        crawler = self.services["crawl"]
        if not crawler.running():
            return []
        return [
            pid
            for pid in descendants(crawler.pid)
            if "forkserver" in command_line(pid) and parent(pid) != crawler.pid
        ]

    def _get(self, path: str, timeout: float = 10.0) -> bytes | None:
        try:
            with urllib.request.urlopen(self.api + path, timeout=timeout) as response:
                return response.read()
        except (OSError, urllib.error.HTTPError):
            return None

    def count(self, expected_urls: set[str]) -> Count | None:
        """Everything the API exports, or None while the API does not answer."""
        body = self._get("/v1/export?format=jsonl", timeout=30.0)
        if body is None:
            return None
        rows = [json.loads(line) for line in body.splitlines() if line.strip()]
        ids = Counter(row["id"] for row in rows)
        ids_per_url: dict[str, set[str]] = {}
        for row in rows:
            ids_per_url.setdefault(row["url"], set()).add(row["id"])
        duplicated = sum(n - 1 for n in ids.values()) + sum(
            len(found) - 1 for found in ids_per_url.values()
        )
        indexed_urls = set(ids_per_url) & expected_urls
        indexed = len(indexed_urls)
        ids = frozenset(i for url in indexed_urls for i in ids_per_url[url])
        return Count(len(expected_urls), indexed, len(expected_urls) - indexed, duplicated, ids)
