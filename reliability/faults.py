"""The faults, each injected at a random moment of a crawl, then healed.

A fault may shape the run before it starts (`prepare`: a small disk under the bus, a
skewed clock for the crawler), does its harm in `inject` (which returns how long the
harm lasts) and ends it in `heal`. Killed or stopped services are restarted by the
harness, as `newsagg up` would restart them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reliability.pipeline import Pipeline
from reliability.processes import alive

FAKETIME_LIBRARY = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
DISK_BYTES = 64 * 1024 * 1024
"""The small disk the bus or index lives on in the disk-full rows."""


class Unavailable(Exception):
    """The fault cannot be made on this machine (the row is skipped, with this reason)."""


@dataclass
class Fault:
    name: str
    problems: list[str] = field(default_factory=list)
    """What went wrong in a run besides the count (read and cleared by the harness)."""

    def prepare(self, data_dir: Path) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
        """(environment of all services, environment per service) for this run."""
        return {}, {}

    def inject(self, pipeline: Pipeline, rng: random.Random) -> float:
        """Do the harm; return the seconds until `heal`."""
        return 0.0

    def heal(self, pipeline: Pipeline) -> None:
        """End the harm (a killed service is restarted by the harness, not here)."""

    def cleanup(self) -> None:
        """Undo `prepare`, after the services stopped."""


@dataclass
class NoFault(Fault):
    """The baseline row: the same counting with nothing going wrong."""


@dataclass
class Signal(Fault):
    service: str = "crawl"
    signum: int = signal.SIGKILL

    def inject(self, pipeline: Pipeline, rng: random.Random) -> float:
        pipeline.services[self.service].signal(self.signum)
        return 0.0


@dataclass
class Pause(Fault):
    """SIGSTOP of a service for a few seconds, then SIGCONT: a process that hangs (a long
    GC pause, a host frozen) with its sockets and the bus's consumer group still open."""

    service: str = "alerts"

    def inject(self, pipeline: Pipeline, rng: random.Random) -> float:
        pipeline.services[self.service].signal(signal.SIGSTOP)
        return rng.uniform(5.0, 15.0)

    def heal(self, pipeline: Pipeline) -> None:
        service = pipeline.services[self.service]
        if service.running():
            service.signal(signal.SIGCONT)


@dataclass
class ReceiverOutage(Fault):
    """The saved search's webhook receiver answers 500, or refuses connections, for a few
    seconds, then takes deliveries again: the alerts worker retries, the same delivery."""

    refuse: bool = False

    def inject(self, pipeline: Pipeline, rng: random.Random) -> float:
        assert pipeline.receiver is not None
        if self.refuse:
            pipeline.receiver.refuse()
        else:
            pipeline.receiver.answer(500)
        return rng.uniform(3.0, 8.0)

    def heal(self, pipeline: Pipeline) -> None:
        assert pipeline.receiver is not None
        pipeline.receiver.answer(200)
        if not pipeline.receiver.listening():
            pipeline.receiver.start()


@dataclass
class KillWorker(Fault):
    """kill -9 of one extraction worker while it may be mid-page."""

    def inject(self, pipeline: Pipeline, rng: random.Random) -> float:
        deadline = time.monotonic() + 30
        while not (workers := pipeline.extraction_workers()):
            if time.monotonic() > deadline:
                raise RuntimeError("no extraction worker started within 30s")
            pipeline.tend()
            time.sleep(0.05)
        os.kill(rng.choice(workers), signal.SIGKILL)
        return 0.0


@dataclass
class DiskFull(Fault):
    """The bus's, the index's or the alert store's disk fills up for a few seconds, then
    has room again.

    The disk is a tmpfs mounted in the harness's private mount namespace (see
    `in_private_mounts`), so nothing outside the run sees it and it vanishes with it.
    """

    target: str = "bus"  # or "index", or "alerts" (the alert store's SQLite file)
    mount: Path | None = None
    filler: Path | None = None

    def prepare(self, data_dir: Path) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
        if os.environ.get(PRIVATE_MOUNTS) != "1":
            raise Unavailable("needs root and `unshare -m` (a private mount namespace)")
        self.mount = data_dir / f"{self.target}-disk"
        self.mount.mkdir(parents=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(self.mount)],
            check=True,
        )
        if self.target == "bus":
            return {"NEWSAGG_BUS_URL": f"sqlite:///{self.mount}/bus.sqlite"}, {}
        if self.target == "alerts":
            return {"NEWSAGG_ALERTS_URL": f"sqlite:///{self.mount}/alerts.sqlite"}, {}
        return {"NEWSAGG_STORE_URL": f"tantivy:///{self.mount}/index"}, {}

    def inject(self, pipeline: Pipeline, rng: random.Random) -> float:
        assert self.mount is not None
        self.filler = self.mount / "filler"
        with self.filler.open("wb") as filler:
            block = b"\0" * (1 << 20)
            try:
                while True:
                    filler.write(block)
                    filler.flush()
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
        return rng.uniform(3.0, 8.0)

    def heal(self, pipeline: Pipeline) -> None:
        if self.filler is not None:
            self.filler.unlink(missing_ok=True)

    def cleanup(self) -> None:
        if self.mount is not None:
            subprocess.run(["umount", "-l", str(self.mount)], check=False)


@dataclass
class ClockSkew(Fault):
    """The crawler's clock runs `offset` off the indexer's (libfaketime); at the fault
    moment it is stopped with SIGTERM and comes back on the true clock."""

    offset: str = "-3h"
    env: dict[str, str] = field(default_factory=dict)

    def prepare(self, data_dir: Path) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
        if not FAKETIME_LIBRARY.exists():
            raise Unavailable(f"no libfaketime at {FAKETIME_LIBRARY} (apt-get install faketime)")
        skewed = {
            "LD_PRELOAD": str(FAKETIME_LIBRARY),
            "FAKETIME": self.offset,
            "DONT_FAKE_MONOTONIC": "1",
        }
        return {}, {"crawl": skewed}

    def inject(self, pipeline: Pipeline, rng: random.Random) -> float:
        crawler = pipeline.services["crawl"]
        for name in ("LD_PRELOAD", "FAKETIME", "DONT_FAKE_MONOTONIC"):
            crawler.env.pop(name, None)
        crawler.signal(signal.SIGTERM)
        return 0.0


@dataclass
class ServerStop(Fault):
    """A Kafka broker or an Elasticsearch node stops for a while, then starts again."""

    server: Any = None

    def inject(self, pipeline: Pipeline, rng: random.Random) -> float:
        self.server.stop()
        return rng.uniform(5.0, 15.0)

    def heal(self, pipeline: Pipeline) -> None:
        if not (self.server.pid and alive(self.server.pid)):
            self.server.start()


PRIVATE_MOUNTS = "NEWSAGG_RELIABILITY_PRIVATE_MOUNTS"
"""Set in the harness process that runs inside its own mount namespace."""


def in_private_mounts() -> bool:
    return os.environ.get(PRIVATE_MOUNTS) == "1"


def can_make_private_mounts() -> bool:
    """Root with `unshare` and tmpfs: the disk-full rows can run."""
    if os.geteuid() != 0:
        return False
    with contextlib.suppress(OSError):
        probe = subprocess.run(
            ["unshare", "-m", "--propagation", "private", "true"], capture_output=True, check=False
        )
        return probe.returncode == 0
    return False


def embedded_faults() -> list[Fault]:
    return [
        NoFault("no fault"),
        Signal("kill -9 crawler", service="crawl", signum=signal.SIGKILL),
        Signal("kill -9 indexer", service="index", signum=signal.SIGKILL),
        Signal("kill -9 api", service="api", signum=signal.SIGKILL),
        KillWorker("kill -9 extraction worker"),
        Signal("SIGTERM restart crawler", service="crawl", signum=signal.SIGTERM),
        Signal("SIGTERM restart indexer", service="index", signum=signal.SIGTERM),
        Signal("SIGTERM restart api", service="api", signum=signal.SIGTERM),
        DiskFull("disk full: bus", target="bus"),
        DiskFull("disk full: index", target="index"),
        ClockSkew("clock skew: crawler 3h behind, restarted"),
        *damage_faults(),
        *alerts_faults(),
        DiskFull("disk full: alerts", target="alerts"),
    ]


def alerts_faults() -> list[Fault]:
    """The faults on the delivery path that both backends run."""
    return [
        Signal("kill -9 alerts", service="alerts", signum=signal.SIGKILL),
        Signal("SIGTERM restart alerts", service="alerts", signum=signal.SIGTERM),
        Pause("SIGSTOP alerts, then SIGCONT", service="alerts"),
        ReceiverOutage("receiver outage: 500"),
        ReceiverOutage("receiver outage: refused", refuse=True),
    ]


@dataclass
class Damage(Fault):
    """Damaged data, found and repaired as docs/runbook.md tells an operator to.

    At the fault moment every service stops; the file is damaged and the services
    start again (those that meet the damage exit 3). Then the operator's steps:
    stop, `newsagg check` (it must exit 1), `newsagg repair <repair>`, start.
    A check that misses the damage makes the row red.
    """

    part: str = "bus"
    repair: tuple[str, ...] = ()

    def _damage(self, data_dir: Path) -> None:
        if self.part == "zero-byte bus":
            bus = data_dir / "bus.sqlite"
            bus.write_bytes(b"")
            for suffix in ("-wal", "-shm"):
                Path(f"{bus}{suffix}").unlink(missing_ok=True)
        elif self.part == "garbage in index":
            biggest = max(
                (p for p in (data_dir / "index").iterdir() if p.is_file()),
                key=lambda p: p.stat().st_size,
            )
            with biggest.open("r+b") as segment:
                segment.seek(biggest.stat().st_size // 2)
                segment.write(os.urandom(64))
        elif self.part == "deleted meta.json":
            (data_dir / "index" / "meta.json").unlink()
        elif self.part == "garbage crawl state":
            state = data_dir / "crawler-state.sqlite"
            with state.open("r+b") as file:
                file.seek(4096)
                file.write(os.urandom(4096))
        else:
            raise ValueError(f"unknown damage {self.part!r}")

    def inject(self, pipeline: Pipeline, rng: random.Random) -> float:
        pipeline.stop()
        self._damage(pipeline.data_dir)
        pipeline.start()
        time.sleep(5.0)  # the services meet the damage (or not) before the operator looks
        pipeline.stop()
        env = pipeline.services["index"].env
        check = subprocess.run(
            [sys.executable, "-m", "newsagg.cli.main", "check"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 1:
            self.problems.append(f"check exited {check.returncode}: {check.stdout.strip()}")
        repair = subprocess.run(
            [sys.executable, "-m", "newsagg.cli.main", "repair", *self.repair],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        (pipeline.data_dir / "repair.log").write_text(repair.stdout + repair.stderr)
        pipeline.start()
        return 0.0


def damage_faults() -> list[Fault]:
    return [
        Damage("damage: zero-byte bus", part="zero-byte bus", repair=("--bus", "--crawl-state")),
        Damage("damage: garbage in index", part="garbage in index", repair=("--index",)),
        Damage("damage: deleted meta.json", part="deleted meta.json", repair=("--index",)),
        Damage(
            "damage: garbage crawl state", part="garbage crawl state", repair=("--crawl-state",)
        ),
    ]
