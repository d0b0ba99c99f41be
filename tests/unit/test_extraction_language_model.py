"""The language model loaded from the unpacked copy in the cache is py3langid's own."""

from __future__ import annotations

import array
import os
import time
from pathlib import Path

import numpy as np
import pytest
from newsagg.crawler import extraction_language
from py3langid.langid import MODEL_FILE, LanguageIdentifier

TEXTS = [
    "The harbour reopened to passenger ferries on Thursday after a week of repairs.",
    "Le port a rouvert jeudi aux ferries après une semaine de travaux sur la jetée.",
    "Der Hafen wurde am Donnerstag nach einer Woche Reparaturen wieder geöffnet.",
    "El puerto reabrió el jueves a los transbordadores tras una semana de obras.",
]


@pytest.fixture(scope="module")
def packaged() -> LanguageIdentifier:
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _load() -> LanguageIdentifier:
    return extraction_language._identifier.__wrapped__()  # type: ignore[attr-defined]


def _same(ours: LanguageIdentifier, theirs: LanguageIdentifier) -> None:
    for name in ("nb_ptc", "nb_pc", "nb_classes", "tk_nextmove", "tk_output", "tk_row"):
        mine, packaged = getattr(ours, name), getattr(theirs, name)
        if isinstance(mine, np.ndarray):
            assert mine.dtype == packaged.dtype, name
            assert np.array_equal(mine, packaged), name
        elif isinstance(mine, array.array):
            assert mine.typecode == packaged.typecode, name
            assert mine == packaged, name
        else:
            assert mine == packaged, name
    assert [ours.classify(t) for t in TEXTS] == [theirs.classify(t) for t in TEXTS]


def test_the_unpacked_copy_is_written_once_and_loads_the_same_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, packaged: LanguageIdentifier
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    _same(_load(), packaged)
    (cached,) = (tmp_path / "newsagg").iterdir()
    assert cached.name.startswith("py3langid-")
    assert cached.suffix == ".npz"
    written = cached.stat().st_mtime_ns
    _same(_load(), packaged)  # from the copy, not written again
    assert cached.stat().st_mtime_ns == written
    assert [p.name for p in (tmp_path / "newsagg").iterdir()] == [cached.name]


def test_without_a_writable_cache_the_packaged_model_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, packaged: LanguageIdentifier
):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    _same(_load(), packaged)


def test_a_damaged_copy_falls_back_to_the_packaged_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, packaged: LanguageIdentifier
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    _load()
    (cached,) = (tmp_path / "newsagg").iterdir()
    cached.write_bytes(cached.read_bytes()[:1000])
    _same(_load(), packaged)
    assert not cached.exists()  # taken out, so that the next load writes it whole again
    _same(_load(), packaged)
    (again,) = (tmp_path / "newsagg").iterdir()
    assert again.stat().st_size > 1000
    _same(extraction_language._from_npz(again), packaged)


def test_other_versions_and_parts_left_by_a_killed_writer_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, packaged: LanguageIdentifier
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cache = tmp_path / "newsagg"
    cache.mkdir()
    old_version = cache / "py3langid-0.1-1-1.npz"
    killed = cache / "py3langid-0.2-1-1.npz.abc.part"
    writing = cache / "py3langid-0.2-1-1.npz.def.part"  # a writer still at work
    unrelated = cache / "notes.txt"
    for path in (old_version, killed, writing, unrelated):
        path.write_bytes(b"x")
    long_ago = time.time() - 2 * extraction_language.STALE_PART_S
    os.utime(killed, (long_ago, long_ago))
    _same(_load(), packaged)
    left = sorted(p.name for p in cache.iterdir())
    assert writing.name in left
    assert unrelated.name in left
    assert old_version.name not in left
    assert killed.name not in left
    assert len(left) == 3  # and the current copy
