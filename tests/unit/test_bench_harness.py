"""The benchmark harness itself: CPU and memory over a process tree, profiles, the summary table.

Real processes that burn a known amount of CPU (each reports its own `time.process_time`)
and hold a known amount of memory; CPU figures come in clock ticks, so the bounds allow a
few ticks and the interpreters' start-up."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench._measure import Measured, TreeSampler, run_measured, self_cpu
from bench._report import RESULTS_ENV, goal_met, profile_path, report, results_dir, target

ROOT = Path(__file__).resolve().parents[2]
BURN = """
import sys, time
def burn(seconds):
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass
burn({seconds})
print(time.process_time(), flush=True)
"""
"""A child that burns `seconds` of its own CPU and prints what it used in all."""


def _children(count: int, seconds: float, then: str = "") -> str:
    """A parent that runs `count` burning children one after another, prints the sum of their
    CPU, then runs `then`."""
    return f"""
import subprocess, sys
used = 0.0
for _ in range({count}):
    out = subprocess.run([sys.executable, "-c", {BURN.format(seconds=seconds)!r}],
                         capture_output=True, text=True, check=True).stdout
    used += float(out)
print(used, flush=True)
{then}
"""


def test_sampler_counts_children_that_exit_between_two_samples() -> None:
    # each child lives ~0.2 s; the sampler looks every 5 s: it never sees one alive
    code = _children(4, 0.2, then="sys.stdin.read()")
    parent = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    assert parent.stdin is not None
    with TreeSampler(parent.pid, interval=5.0) as sampler:
        children_cpu = float(parent.stdout.readline())
        sampler.stop()  # while the parent is alive: what it reaped is in its children_* times
        cpu, _ = sampler.result()
    parent.stdin.close()
    parent.wait()
    assert children_cpu >= 0.8
    assert children_cpu - 0.05 <= cpu <= children_cpu + 2.0


def test_sampler_keeps_the_cpu_of_a_root_that_exited() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", _children(2, 0.2, then="import time; time.sleep(0.6)")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    with TreeSampler(parent.pid, interval=0.1) as sampler:
        children_cpu = float(parent.stdout.readline())
        parent.wait()  # reaped by us, outside the tree: its last sample stays
        cpu, _ = sampler.result()
    assert cpu >= children_cpu - 0.05


def test_sampler_peak_rss_is_the_sum_over_the_tree() -> None:
    # two children each hold 96 MB of touched memory at the same time
    hold = (
        "import sys; block = bytearray(b'x') * (96 * 2**20); print(1, flush=True); sys.stdin.read()"
    )
    code = f"""
import subprocess, sys
kids = [subprocess.Popen([sys.executable, "-c", {hold!r}], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE) for _ in range(2)]
for kid in kids:
    kid.stdout.readline()
print("both", flush=True)
sys.stdin.read()
for kid in kids:
    kid.stdin.close()
    kid.wait()
"""
    parent = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    assert parent.stdin is not None
    with TreeSampler(parent.pid, interval=0.05) as sampler:
        assert parent.stdout.readline().strip() == "both"
        sampler.sample()
        _, peak = sampler.result()
        parent.stdin.close()
        parent.wait()
    assert 2 * 96 < peak < 2 * 96 + 200


def test_run_measured_sums_the_tree_and_keeps_the_exit_status() -> None:
    code = _children(2, 0.3, then="sys.exit(3)")
    measured = run_measured([sys.executable, "-c", code], stdout=subprocess.DEVNULL)
    assert isinstance(measured, Measured)
    assert measured.returncode == 3
    assert 0.6 <= measured.cpu_s < 0.6 + 2.0
    assert measured.peak_rss_mb > 5
    assert measured.wall_s > 0
    assert measured.profile is None


def test_run_measured_with_a_profile_writes_speedscope_with_the_childs_frames(
    tmp_path: Path,
) -> None:
    out = tmp_path / "burn.cpu.speedscope.json"
    code = _children(1, 0.5)
    measured = run_measured([sys.executable, "-c", code], profile=out, stdout=subprocess.DEVNULL)
    assert measured.returncode == 0
    assert measured.profile == out, "py-spy did not write the profile (see stderr)"
    profile = json.loads(out.read_text())
    assert "speedscope" in profile["$schema"]
    frames = {frame["name"] for frame in profile["shared"]["frames"]}
    assert "burn" in frames  # sampled in the grandchild: --subprocesses works
    assert measured.cpu_s >= 0.5


def test_run_measured_kills_the_whole_tree_on_timeout() -> None:
    sleeper = "import time; time.sleep(60)"
    code = (
        f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', {sleeper!r}]); {sleeper}"
    )
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        run_measured([sys.executable, "-c", code], timeout=1.0)
    assert time.monotonic() - started < 10
    left = subprocess.run(
        ["pgrep", "-f", "time.sleep\\(60\\)"], capture_output=True, text=True, check=False
    )
    assert left.stdout == ""


def test_self_cpu_is_this_processs_cpu() -> None:
    before = self_cpu()
    start = time.process_time()
    while time.process_time() - start < 0.1:
        pass
    assert self_cpu() - before >= 0.1


def test_goals_decide_met() -> None:
    assert goal_met(1.2, ">= 1.0") is True
    assert goal_met(0.66, ">= 1.0") is False
    assert goal_met(49.0, "< 50") is True
    assert goal_met(1.0, "< poll interval + 1 s") is None
    assert target("peak RSS", 400.0, "")["met"] is None
    with pytest.raises(ValueError, match="not '<op> <number>'"):
        target("freshness", 1.0, "soon")


def test_report_refuses_a_met_that_contradicts_its_goal(tmp_path: Path) -> None:
    wrong = {"target": "p99", "value": 62.0, "goal": "< 50", "met": True}
    with pytest.raises(ValueError, match="is met=False"):
        report("x", [], {}, [wrong], results=tmp_path)
    assert not (tmp_path / "x.json").exists()


def test_results_dir_and_profiles_follow_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(RESULTS_ENV, raising=False)
    assert results_dir() == ROOT / "bench" / "results"
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path))
    assert profile_path("crawl", "newsagg") == tmp_path / "crawl.newsagg.speedscope.json"
    written = report("demo", [{"tool": "newsagg", "pages": 3}], {"quick": True})
    assert written == tmp_path / "demo.json"
    data = json.loads(written.read_text())
    assert data["machine"]["cores"] >= 1
    assert data["machine"]["ram_gb"] > 0
    assert len(data["machine"]["load_at_start"]) == 3
    assert data["machine"]["cpu"]
    assert data["rows"] == [{"tool": "newsagg", "pages": 3}]
    assert data["targets"] == []


def _summary(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / "summary.py"), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_summary_makes_one_table_of_every_results_targets(tmp_path: Path) -> None:
    report(
        "extraction",
        [{"tool": "newsagg", "pages/CPU-s": 31.2}],
        {"pages": 121},
        [
            target(
                "pages per CPU-second vs plain trafilatura",
                1.12,
                ">= 1.0",
                newsagg="31.2 pages/CPU-s",
                peer="27.9 pages/CPU-s",
            )
        ],
        results=tmp_path,
    )
    report(
        "search",
        [],
        {"docs": 1_000_000},
        [
            target("p99, phrase", 62.0, "< 50", newsagg="62 ms"),
            target("peak RSS, store", 812.5, "", newsagg="812 MB"),
            target("docs/s into the store", 836.0, ">= 10000", peer="tantivy alone 876"),
            target("API p50 over store p50", 1.2, "<= 1.3", newsagg="2.4 ms", ratio=True),
        ],
        results=tmp_path,
    )
    report("bus", [{"adapter": "sqlite", "msg/s": 900.0}], {}, results=tmp_path)
    (tmp_path / "crawl.newsagg.speedscope.json").write_text("{}")  # a profile is not a result

    done = _summary("--results", str(tmp_path), "--markdown", "--expect", "extraction,search")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "| stage | newsagg | peer | ratio | target | met |"
    assert lines[2:7] == [
        "| extraction: pages per CPU-second vs plain trafilatura | 31.2 pages/CPU-s "
        "| 27.9 pages/CPU-s | 1.12× | >= 1.0 | yes |",
        "| search: p99, phrase | 62 ms | — | — | < 50 | no |",
        "| search: peak RSS, store | 812 MB | — | — | — | — |",
        "| search: docs/s into the store | 836 | tantivy alone 876 | — | >= 10000 | no |",
        "| search: API p50 over store p50 | 2.4 ms | — | 1.2× | <= 1.3 | yes |",
    ]
    assert lines[7] == ""
    assert lines[8].startswith("Machine: ")
    for fact in (" cores ", "GB RAM", "load average at start"):
        assert fact in lines[8]

    plain = _summary("--results", str(tmp_path))
    assert plain.returncode == 0
    assert "extraction: pages per CPU-second vs plain trafilatura" in plain.stdout
    assert "Results without targets (rows only): bus." in plain.stdout


def test_summary_fails_on_a_missing_or_stale_benchmark(tmp_path: Path) -> None:
    report("index", [], {}, [target("docs/s, embedded", 12_000.0, ">= 10000")], results=tmp_path)
    missing = _summary("--results", str(tmp_path), "--expect", "index,api")
    assert missing.returncode == 1
    assert "api: no results" in missing.stderr

    stale = _summary(
        "--results", str(tmp_path), "--expect", "index", "--since", f"{time.time() + 60}"
    )
    assert stale.returncode == 1
    assert "index: results from" in stale.stderr
