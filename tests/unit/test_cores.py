"""Pools are sized to the container's CPU quota, not to every core of the node."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from newsagg.core.cores import available_cores, quota_cores


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("100000 100000", 1),  # limits.cpu: 1
        ("150000 100000", 2),  # 1.5 CPUs: two busy processes still fit
        ("25000 100000", 1),  # 250m: never zero workers
        ("400000 100000", 4),
        ("max 100000", None),  # no limit
        ("", None),
        ("garbage here", None),
        ("-1 100000", None),
    ],
)
def test_quota_cores_reads_cgroup_v2_cpu_max(line: str, expected: int | None) -> None:
    assert quota_cores(line) == expected


def test_the_quota_caps_the_affinity_set(tmp_path: Path) -> None:
    affinity = len(os.sched_getaffinity(0))
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("100000 100000\n")
    assert available_cores(cpu_max) == 1
    cpu_max.write_text(f"{(affinity + 8) * 100000} 100000\n")  # a quota above the cores
    assert available_cores(cpu_max) == affinity
    cpu_max.write_text("max 100000\n")
    assert available_cores(cpu_max) == affinity


def test_no_cgroup_file_means_the_affinity_set(tmp_path: Path) -> None:
    assert available_cores(tmp_path / "absent") == len(os.sched_getaffinity(0))
