"""A segment merged away while the index is being checked is not damage: the writer deletes
the old segment's files after writing meta.json, so a reader's check may list a file, find
it, and then lose it before reading its footer (seen in bench/stories.py's indexer runs)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from newsagg.core.adapters import tantivy_check
from newsagg.core.adapters.tantivy_check import IndexCheck
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.article import Article


def test_a_file_merged_away_between_its_stat_and_its_footer_read_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    store = TantivyStore(tmp_path / "index", writable=True)
    store.ensure_schema()
    article = Article.create(
        url="https://check.example/1",
        source="check-daily",
        title="Harbour festival",
        text="The harbour festival opened with lanterns.",
        crawled_at=datetime(2026, 9, 1, tzinfo=UTC),
    )
    store.upsert([article])
    store.close()
    read = tantivy_check.verify_footer
    merged: list[str] = []

    def merge_first(file: Path) -> None:
        if not merged:  # the merge lands between the check's stat and its footer read
            merged.append(file.name)
            file.unlink()
        read(file)

    monkeypatch.setattr(tantivy_check, "verify_footer", merge_first)

    IndexCheck(tmp_path / "index").check()

    assert merged
