"""The presearcher is conservative: its candidates hold every article the store would find.

Generated saved searches (words of the corpus in their forms as written, cased, accented
or pluralised, phrases, OR, exclusions, fields, value filters) run on an embedded store of
the varied demo corpus; for each, every article search() finds must be among the
presearcher's candidate articles for it. Beside that, it must prune: a search is no
candidate for a batch that lacks what it needs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from newsagg.core.adapters.tantivy_schema import news_analyzer
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.alerts.model import SavedFilters, SavedSearch
from newsagg.core.alerts.presearch import Presearcher
from newsagg.core.query import QuerySyntaxError, parse_query
from newsagg.core.search import Collapse
from support.alert_corpus import CORPUS_PEOPLE, alert_corpus

CORPUS = alert_corpus()
WORDS = sorted({w for a in CORPUS for w in re.findall(r"[^\W_]+", a.title)} | {"Café", "naïve"})
PHRASES = sorted({" ".join(a.title.split()[i : i + 2]) for a in CORPUS for i in range(3)})
AUTHORS = sorted({author for a in CORPUS for author in a.authors})
SOURCES = sorted({a.source for a in CORPUS})


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TantivyStore]:
    store = TantivyStore(Path(tmp_path_factory.mktemp("presearch")) / "index", writable=True)
    store.ensure_schema()
    store.upsert(CORPUS)
    yield store
    store.close()


def variant(word: str) -> st.SearchStrategy[str]:
    """The word as typed, upper- or lowercased, pluralised, or with an accent."""
    return st.sampled_from(
        [word, word.lower(), word.upper(), f"{word}s", word.replace("e", "é", 1)]
    )


words = st.sampled_from(WORDS).flatmap(variant)
leaves = st.one_of(
    words,
    st.sampled_from(PHRASES).map(lambda phrase: f'"{phrase}"'),
    words.map(lambda word: f"title:{word}"),
    st.sampled_from(AUTHORS).map(lambda author: f'author:"{author}"'),
    st.sampled_from(AUTHORS).map(lambda author: f"author:{author.split()[-1]}"),
    st.sampled_from(SOURCES)
    .flatmap(lambda s: st.sampled_from([s, s.lower()]))
    .map(lambda source: f"source:{source}"),
    st.just("—"),
)
units = st.one_of(leaves, leaves.map(lambda leaf: f"-{leaf}"))
queries = st.recursive(
    units,
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(" ".join),
        st.lists(inner, min_size=2, max_size=3).map(lambda parts: f"({' OR '.join(parts)})"),
    ),
    max_leaves=6,
)
filters = st.builds(
    SavedFilters,
    sources=st.lists(st.sampled_from(SOURCES), max_size=2).map(tuple),
    authors=st.lists(st.sampled_from(AUTHORS), max_size=2).map(tuple),
    languages=st.lists(st.sampled_from(["en", "hi"]), max_size=1).map(tuple),
    people=st.lists(st.sampled_from(CORPUS_PEOPLE), max_size=2).map(tuple),
)


def parses(query: str | None) -> bool:
    try:
        return query is None or parse_query(query) is not None
    except QuerySyntaxError:
        return False


searches = st.builds(
    lambda q, f, filtered: SavedSearch(
        name="generated", q=q, filters=f if filtered else SavedFilters()
    ),
    st.one_of(st.none(), queries).filter(parses),
    filters,
    st.booleans(),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(searches, min_size=1, max_size=20))
def test_candidates_hold_every_article_the_store_finds(store, generated):
    presearcher = Presearcher(news_analyzer().analyze)
    candidates = {c.search.id: c.articles for c in presearcher.candidates(generated, CORPUS)}
    positions = {article.id: i for i, article in enumerate(CORPUS)}
    for search in generated:
        query = search.search_query(size=100, collapse=Collapse.NONE, facets=())
        found = {positions[hit.id] for hit in store.search(query).hits}
        assert found <= set(candidates.get(search.id, ())), (search.q, search.filters)


def test_a_search_is_no_candidate_for_a_batch_lacking_its_terms():
    presearcher = Presearcher(news_analyzer().analyze)
    soman = [a for a in CORPUS if "Soman" in a.title]
    others = [a for a in CORPUS if "soman" not in f"{a.title} {a.text}".lower()]
    search = SavedSearch(name="soman runway", q="Milind Soman runway")
    assert presearcher.candidates([search], others) == []
    (candidate,) = presearcher.candidates([search], soman + others[:3])
    assert candidate.articles
    assert max(candidate.articles) < len(soman)


def test_and_needs_every_child_or_needs_one_not_needs_nothing():
    presearcher = Presearcher(news_analyzer().analyze)
    batch = [a for a in CORPUS if "Diwali" in a.title][:1]
    assert batch
    both = SavedSearch(name="both", q="Diwali zzzzqqqq")
    either = SavedSearch(name="either", q="Diwali OR zzzzqqqq")
    excluded = SavedSearch(name="excluded", q="-Diwali")
    nothing = SavedSearch(name="nothing", q="—")
    filtered = SavedSearch(name="people", filters=SavedFilters(people=("Nobody Atall",)))
    everything = SavedSearch(name="everything")
    found = presearcher.candidates([both, either, excluded, nothing, filtered, everything], batch)
    assert [c.search.name for c in found] == ["either", "excluded", "everything"]


def test_an_edited_search_is_matched_as_it_now_is():
    presearcher = Presearcher(news_analyzer().analyze)
    batch = [a for a in CORPUS if "Diwali" in a.title]
    search = SavedSearch(name="s", q="zzzzqqqq")
    assert presearcher.candidates([search], batch) == []
    edited = search.model_copy(update={"q": "Diwali"})
    assert [c.search for c in presearcher.candidates([edited], batch)] == [edited]
    assert presearcher.candidates([], batch) == []
