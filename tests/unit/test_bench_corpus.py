"""bench/corpus.py: the shared corpus is real text, reproducible, and its index is built once."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from newsagg.core.adapters.tantivy_store import TantivyStore

from bench.corpus import (
    NAMES,
    SOURCES,
    benchmark_pages,
    ensure_index,
    generated_articles,
    read_manifest,
)


def test_the_benchmark_pages_are_the_121_real_pages():
    pages = benchmark_pages()
    assert len(pages) == 121
    assert all(page.html.lstrip().startswith(b"<") and page.body for page in pages)


def test_generated_texts_are_windows_of_the_real_bodies_and_reproducible():
    articles = list(generated_articles(600))
    assert [a.id for a in articles] == [a.id for a in generated_articles(600)]
    assert len({a.id for a in articles}) == 600
    bodies = " ".join(" ".join(page.body.split()) for page in benchmark_pages())
    for article in articles[:50]:
        text = article.text
        for name in NAMES:
            text = text.replace(f" {name}", "").replace(f"{name} ", "")
        assert " ".join(text.split()[:8]) in bodies
    assert len({a.source for a in articles}) >= 20
    assert {a.source for a in articles} <= {name for name, _ in SOURCES}
    years = {a.published_at.year for a in articles if a.published_at}
    assert years == {2024, 2025}
    assert min(a.word_count for a in articles) >= 60  # the last body's windows may end early
    assert any(re.search("|".join(NAMES), a.text) for a in articles)


def test_ensure_index_builds_through_the_store_once_and_reuses_it(tmp_path: Path):
    path = ensure_index(tmp_path / "index", 300, batch=100)
    built = read_manifest(path)
    assert built["n"] == 300
    store = TantivyStore(path, writable=False)
    assert store.count() == 300
    store.close()
    assert ensure_index(tmp_path / "index", 300) == path
    assert read_manifest(path)["built_at"] == built["built_at"]  # reused, not rebuilt
    ensure_index(tmp_path / "index", 200, batch=100)
    assert read_manifest(path)["n"] == 200
    store = TantivyStore(path, writable=False)
    assert store.count() == 200
    store.close()


def test_concurrent_callers_build_the_index_once(tmp_path: Path):
    """bench/search.py and bench/api.py may ask at once: the second waits and reuses."""
    results: list[Path] = []
    callers = [
        threading.Thread(target=lambda: results.append(ensure_index(tmp_path / "i", 200)))
        for _ in range(2)
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert results == [tmp_path / "i", tmp_path / "i"]
    store = TantivyStore(tmp_path / "i", writable=False)
    assert store.count() == 200
    store.close()
