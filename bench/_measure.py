"""CPU seconds and peak memory of a whole process tree, for the benchmarks.

On this shared 2-core machine wall time measures the neighbours too, so the benchmarks
compare CPU seconds summed over every process a tool starts (its pool workers, its
browser, its helpers), and the peak of the summed resident memory of those processes.

`TreeSampler` watches a process someone else started (a server a benchmark owns);
`run_measured` starts a command, watches it and returns a `Measured`.

How CPU of processes that exit is kept: the kernel adds a reaped child's CPU (and
that of the children it had reaped) to its parent's `children_user`/`children_system`.
So the sum over the live tree of (own CPU + reaped children's CPU) never loses a child
reaped inside the tree, even one that lived between two samples. A process that leaves
the tree unreaped by it (the root itself, or an orphan re-parented to init) keeps the
last figure seen for it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import psutil

_Key = tuple[int, float]
"""(pid, create_time): a pid the kernel reuses is another process."""


@dataclass(frozen=True)
class Measured:
    wall_s: float
    """Wall time of the command."""
    cpu_s: float
    """user+sys CPU seconds of the process and all its descendants, including those that
    exited during the run."""
    peak_rss_mb: float
    """Peak of the sum of RSS over the live process tree (sampled every `interval`)."""
    returncode: int
    profile: Path | None = None
    """The speedscope profile written, or None (not asked for, or py-spy was refused)."""


@dataclass
class _Seen:
    ppid: int
    cpu: float
    """own user+sys plus reaped children's, at the last sample"""


class TreeSampler:
    """Samples a running process tree in a thread: `with TreeSampler(pid) as s: ...; s.result()`.

    Every process seen stays watched until it exits, even when re-parented out of the tree
    (a daemonised helper still counts)."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self._root = psutil.Process(pid)
        self._known: dict[_Key, psutil.Process] = {}
        self._seen: dict[_Key, _Seen] = {}
        self._retired = 0.0
        self._cpu = 0.0
        self._peak_rss = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"tree-sampler-{pid}", daemon=True)

    def __enter__(self) -> TreeSampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the thread after one last sample (idempotent)."""
        if not self._stop.is_set():
            self._stop.set()
            if self._thread.is_alive():
                self._thread.join()
            self.sample()

    def result(self) -> tuple[float, float]:
        """(cpu_s, peak_rss_mb) so far."""
        with self._lock:
            return self._cpu, self._peak_rss / 2**20

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def _processes(self) -> list[psutil.Process]:
        """The root's live descendants plus every process seen before that still runs."""
        found: dict[_Key, psutil.Process] = {}
        try:
            tree = [self._root, *self._root.children(recursive=True)]
        except psutil.NoSuchProcess:
            tree = []
        for proc in [*tree, *self._known.values()]:
            try:
                found.setdefault((proc.pid, proc.create_time()), proc)
            except psutil.NoSuchProcess:
                continue
        self._known = found
        return list(found.values())

    def sample(self) -> None:
        """Read CPU and RSS of every process of the tree once."""
        with self._lock:
            rss = 0
            now: dict[_Key, _Seen] = {}
            for proc in self._processes():
                try:
                    with proc.oneshot():
                        key = (proc.pid, proc.create_time())
                        times = proc.cpu_times()
                        ppid = proc.ppid()
                        status = proc.status()
                        if status != psutil.STATUS_ZOMBIE:
                            rss += proc.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                cpu = times.user + times.system + times.children_user + times.children_system
                now[key] = _Seen(ppid, cpu)
            live_pids = {pid for pid, _ in now}
            for key, last in self._seen.items():
                if key in now:
                    continue
                # gone: if its parent is a watched process still alive, that parent reaped
                # it and now counts its CPU under children_*; otherwise keep what we saw
                if last.ppid not in live_pids:
                    self._retired += last.cpu
            self._seen = now
            total = self._retired + sum(s.cpu for s in now.values())
            self._cpu = max(self._cpu, total)
            self._peak_rss = max(self._peak_rss, rss)


def self_cpu() -> float:
    """user+sys CPU seconds of this process, all threads (for in-process timing)."""
    return time.process_time()


def _kill_tree(pid: int) -> None:
    try:
        root = psutil.Process(pid)
        procs = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(signal.SIGKILL)


def _py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def _start_profiler(pid: int, out: Path) -> subprocess.Popen[bytes] | None:
    """py-spy attached to `pid` and its subprocesses, not as their parent, so its own CPU
    stays out of the measured tree. Non-blocking sampling: the measured figures move less."""
    exe = _py_spy()
    if exe is None:
        print("py-spy not found: running unprofiled", file=sys.stderr)
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--nonblocking",
            "--format",
            "speedscope",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _finish_profiler(spy: subprocess.Popen[bytes] | None, out: Path) -> Path | None:
    if spy is None:
        return None
    try:
        _, err = spy.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        spy.send_signal(signal.SIGINT)
        _, err = spy.communicate()
    if spy.returncode == 0 and out.exists():
        return out
    reason = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
    print(f"py-spy refused ({reason[0]}): this run is unprofiled", file=sys.stderr)
    return None


def run_measured(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float | None = None,
    profile: Path | None = None,
    interval: float = 0.1,
    stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = None,
) -> Measured:
    """Run `cmd` to its end; CPU over its whole tree, peak summed RSS, wall time.

    `env` replaces the environment (pass `{**os.environ, ...}` to extend it). With
    `profile`, py-spy records the tree as speedscope JSON to that path; if py-spy is
    refused (no ptrace permission) the run goes on unprofiled and says so on stderr. On
    `timeout` the whole tree is killed and `subprocess.TimeoutExpired` raised.

    The final CPU figure is the larger of the sampled one and the kernel's rusage of the
    command when reaped (which has the tail after the last sample, and every descendant
    reaped inside the tree)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd),
        env=dict(env) if env is not None else None,
        cwd=cwd,
        stdout=stdout,
        stderr=stderr,
    )
    spy = None
    with TreeSampler(proc.pid, interval) as sampler:
        if profile is not None:
            spy = _start_profiler(proc.pid, profile)
        deadline = None if timeout is None else started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.perf_counter() > deadline:
                sampler.stop()
                _kill_tree(proc.pid)
                proc.wait()
                if spy is not None:
                    _finish_profiler(spy, profile or Path())
                raise subprocess.TimeoutExpired(list(cmd), timeout or 0.0)
            time.sleep(min(interval / 2, 0.02))
        wall = time.perf_counter() - started
        # the root is reaped: a last sample retires it, then the thread stops
    proc.returncode = os.waitstatus_to_exitcode(status)
    written = _finish_profiler(spy, profile) if profile is not None else None
    cpu, peak = sampler.result()
    return Measured(
        wall_s=wall,
        cpu_s=max(cpu, usage.ru_utime + usage.ru_stime),
        peak_rss_mb=peak,
        returncode=proc.returncode,
        profile=written,
    )
