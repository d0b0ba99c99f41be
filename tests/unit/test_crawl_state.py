"""The crawl state refuses a damaged file instead of starting afresh over it."""

from __future__ import annotations

from pathlib import Path

import pytest
from newsagg.core.ports import DataCorrupted
from newsagg.crawler.state import CrawlState


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (b"", "zero bytes"),
        (b"garbage " * 512, "not a SQLite database"),
    ],
)
def test_a_damaged_crawl_state_is_an_error_that_names_the_repair(
    tmp_path: Path, damage: bytes, problem: str
):
    path = tmp_path / "crawler-state.sqlite"
    path.write_bytes(damage)
    with pytest.raises(DataCorrupted, match=problem) as raised:
        CrawlState(path)
    assert "newsagg repair --crawl-state" in str(raised.value)
    assert path.read_bytes() == damage  # left as found, for the repair to move aside


def test_garbage_inside_a_crawl_state_is_found_at_open(tmp_path: Path):
    path = tmp_path / "crawler-state.sqlite"
    state = CrawlState(path)
    for n in range(2000):
        state.record(f"https://example.com/{n}", None, "hash" * 8, f"id{n}")
    state.close()
    data = bytearray(path.read_bytes())
    data[8192 : 8192 + 4096] = b"\xa5" * 4096  # one page of garbage after the header
    path.write_bytes(bytes(data))
    with pytest.raises(DataCorrupted, match=r"crawler-state\.sqlite is corrupted"):
        CrawlState(path)


def test_a_missing_crawl_state_is_a_fresh_start(tmp_path: Path):
    state = CrawlState(tmp_path / "new" / "crawler-state.sqlite")
    assert state.needs_fetch("https://example.com/a", None)
    state.close()
