"""Services that start together on an empty data directory all open the same new bus."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

_OPEN_AT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from newsagg.core.adapters.sqlite_bus import SqliteLogBus
    from newsagg.crawler.state import CrawlState
    start = float(sys.argv[3])
    while time.time() < start:
        pass
    kind = SqliteLogBus if sys.argv[2] == "bus" else CrawlState
    opened = kind(Path(sys.argv[1]))
    opened.close()
    """
)


def _open_together(kind: str, path: Path, processes: int) -> list[str]:
    """Start `processes` openers of one missing file at the same instant; their errors."""
    start = subprocess.run(
        [sys.executable, "-c", "import time; print(time.time() + 3)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    openers = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_AT, str(path), kind, start],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    return [p.communicate(timeout=60)[1] for p in openers if p.wait(timeout=60) != 0]


def test_processes_opening_a_new_bus_at_once_never_see_it_half_made(tmp_path: Path):
    for attempt in range(3):
        path = tmp_path / f"bus-{attempt}.sqlite"
        errors = _open_together("bus", path, 4)
        assert not errors, errors[0]
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_processes_opening_a_new_crawl_state_at_once_never_see_it_half_made(tmp_path: Path):
    for attempt in range(2):
        errors = _open_together("state", tmp_path / f"state-{attempt}.sqlite", 4)
        assert not errors, errors[0]
