"""A faceted search's facet pass runs on a second thread while the caller ranks, and the page is
the one the passes gave one after the other: same hits in the same order, same scores,
snippets, counts and facets. Checked on the benchmark's generated articles (real text, so a
common phrase, ties and all the facets occur) with bench/search.py's query kinds."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from newsagg.core.adapters import tantivy_store
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.query import parse_query
from newsagg.core.search import SearchQuery, Sort

from bench.corpus import NAMES, SOURCES, generated_articles

ALL_FACETS = ("source", "author", "language", "person", "published_day")


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("facets") / "index"
    writer = TantivyStore(path, writable=True)
    writer.ensure_schema()
    writer.upsert(list(generated_articles(1_500)))
    writer.close()
    return path


def _reader(index: Path, cores: int, monkeypatch: pytest.MonkeyPatch) -> TantivyStore:
    monkeypatch.setattr(tantivy_store, "available_cores", lambda: cores)
    return TantivyStore(index, writable=False)


@pytest.fixture
def stores(index: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TantivyStore, ...]]:
    """(overlapping, one pass after the other) over the same index."""
    pair = (_reader(index, 2, monkeypatch), _reader(index, 1, monkeypatch))
    yield pair
    for store in pair:
        store.close()


def _queries() -> dict[str, SearchQuery]:
    def searched(q: str, **update: Any) -> SearchQuery:
        return SearchQuery(query=parse_query(q), **{"facets": ("source",)} | update)

    year = (datetime(2024, 6, 1, tzinfo=UTC), datetime(2025, 5, 31, 23, 59, 59, tzinfo=UTC))
    return {
        "phrase": searched('"have been"'),
        "rare terms": searched(NAMES[5]),
        "facets": searched("people", facets=ALL_FACETS),
        "second page": searched("people", facets=ALL_FACETS, offset=10),
        "past the end": searched("people", offset=100_000),
        "filters + date sort": searched(
            "people",
            sources=tuple(name for name, _ in SOURCES[:3]),
            languages=("en",),
            published_from=year[0],
            published_to=year[1],
            sort=Sort.DATE,
            facets=("source", "published_day"),
        ),
        "no facets": searched('"have been"', facets=()),
    }


@pytest.mark.parametrize("kind", list(_queries()))
def test_the_overlapped_page_is_the_sequential_one(kind: str, stores: tuple[TantivyStore, ...]):
    query = _queries()[kind]
    overlapping, sequential = stores
    page, expected = overlapping.search(query), sequential.search(query)
    assert page == expected
    if kind != "past the end":
        assert page.hits
    if query.facets:
        assert set(page.facets) == set(query.facets)
        assert sum(f.count for f in page.facets["source"]) == page.total  # one source each


def test_a_date_cursor_page_with_facets_is_the_sequential_one(stores: tuple[TantivyStore, ...]):
    overlapping, sequential = stores
    first = SearchQuery(query=parse_query("people"), sort=Sort.DATE, facets=ALL_FACETS)
    after = first.model_copy(update={"after": sequential.search(first).last_sort})
    page = overlapping.search(after)
    assert page == sequential.search(after)
    assert page.hits
    assert page.facets["published_day"]


def test_the_facet_pass_runs_off_the_calling_thread_with_a_second_core(
    stores: tuple[TantivyStore, ...], monkeypatch: pytest.MonkeyPatch
):
    threads: list[str] = []
    facets = TantivyStore._facets

    def recorded(*args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return facets(*args)

    monkeypatch.setattr(TantivyStore, "_facets", staticmethod(recorded))
    overlapping, sequential = stores
    query = _queries()["phrase"]
    overlapping.search(query)
    sequential.search(query)
    assert threads[0].startswith("tantivy-facets")
    assert threads[1] == threading.current_thread().name
