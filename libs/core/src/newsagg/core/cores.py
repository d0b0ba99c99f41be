"""How many CPUs this process may really use: sized pools must fit a container's quota.

`os.sched_getaffinity` sees the CPUs a process may be scheduled on, which in a container
with a CPU limit (Kubernetes `resources.limits.cpu`, `docker run --cpus`) is still every
core of the node: a pool sized to it would start 64 workers in a pod allowed one CPU.
The limit itself is the cgroup v2 `cpu.max` quota.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def quota_cores(cpu_max: str) -> int | None:
    """Whole CPUs a cgroup v2 `cpu.max` line ("<quota> <period>" or "max <period>") allows,
    rounded up (a 1.5-CPU limit runs two busy processes well); None when unlimited."""
    fields = cpu_max.split()
    if len(fields) != 2 or fields[0] == "max":
        return None
    try:
        quota, period = int(fields[0]), int(fields[1])
    except ValueError:
        return None
    if quota <= 0 or period <= 0:
        return None
    return max(1, math.ceil(quota / period))


def available_cores(cpu_max: Path = CPU_MAX) -> int:
    """CPUs to size a worker pool by: the affinity set, capped by the cgroup quota."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cores = affinity or os.cpu_count() or 1
    try:
        limit = quota_cores(cpu_max.read_text())
    except OSError:
        limit = None
    return min(cores, limit) if limit else cores
