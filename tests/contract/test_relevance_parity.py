"""Both stores rank alike: on the demo site's stories, editors' queries get the same top hit.

The corpus is the bundled demo site run through the crawler's extraction, so the text is
what production indexes. Each query names the story an editor expects first.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from newsagg.core.ports import SearchStore
from newsagg.core.query import parse_query
from newsagg.core.search import SearchQuery
from support.demo_corpus import MANIFEST, demo_corpus
from support.stores import store_pair

STORES = ("tantivy", "elasticsearch")

EDITOR_QUERIES = {
    "Milind Soman cycling": "milind-soman-ankita-konwar-roadside-romance-cycling",
    '"roadside romance"': "milind-soman-ankita-konwar-roadside-romance-cycling",
    "barefoot running": "milind-soman-barefoot-running-interview",
    "Unity Run": "milind-soman-unity-run-416-km-recap",
    "Kesar Mahal trailer": "kesar-mahal-trailer-launch",
    "pilates posture": "tara-mirchandani-pilates-routine",
    "charity bike ride": "declan-marsh-charity-coast-ride",
    "sunrise yoga": "ankita-konwar-sunrise-yoga-flow-instagram",
    "world tour Melbourne": "aditi-varma-world-tour-announcement",
    "Kabir Anand exit": "kabir-anand-exits-police-drama-fans-react",
    "title:Dhuaan review": "dhuaan-crime-series-review",
    "Marathi film festival": "mumbai-autumn-film-festival-lineup",
}


@pytest.fixture(scope="module")
def both_stores(
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
    elasticsearch_url: str,  # named, so the module's tests are marked jvm
) -> Iterator[dict[str, SearchStore]]:
    corpus = demo_corpus()
    root = tmp_path_factory.mktemp("parity")
    pairs = {kind: store_pair(kind, root, request, "test-parity") for kind in STORES}
    try:
        for pair in pairs.values():
            marquee = MANIFEST["outlets"]["marquee-daily"]["article_count"]
            assert pair.writer.upsert(corpus).written == len(corpus) == marquee
        yield {kind: pair.writer for kind, pair in pairs.items()}
    finally:
        for pair in pairs.values():
            pair.close()


def slug(url: str) -> str:
    return Path(url).stem


@pytest.mark.parametrize(("query", "expected"), EDITOR_QUERIES.items())
def test_both_stores_put_the_same_story_first(
    both_stores: dict[str, SearchStore], query: str, expected: str
):
    tops = {
        name: slug(store.search(SearchQuery(query=parse_query(query), size=3)).hits[0].url)
        for name, store in both_stores.items()
    }
    assert tops == {"tantivy": expected, "elasticsearch": expected}
