"""The test suite's own layout.

pytest imports test modules by their basename (tests/ holds no packages), so two files of
one name in two folders stop the whole suite at collection, every test unrun (it happened
twice in one session, each time with a new browser test named like its API test).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_test_module_names_are_unique_across_folders():
    names = Counter(path.name for path in TESTS.rglob("test_*.py"))
    assert sorted(name for name, count in names.items() if count > 1) == []
