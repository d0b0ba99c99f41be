"""What every Matcher promises (issue 19): a saved search matches an article of a batch if
and only if the same search on the store finds it.

Each store holds the varied demo corpus (support.alert_corpus); the matcher from
open_matcher gets batches of those articles as the store holds them, and for every saved
search its result must equal the store's own search() restricted to the batch's ids. The
searches cover words, phrases, OR, exclusions, fields, stemming and accents, every filter
kind, filter-only searches and people.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from newsagg.core.adapters import open_matcher
from newsagg.core.alerts.model import SavedFilters, SavedSearch
from newsagg.core.article import Article
from newsagg.core.ports import Matcher, SearchStore
from newsagg.core.search import NO_DATE, Collapse
from support.alert_corpus import alert_corpus
from support.stores import StorePair

CORPUS = alert_corpus()
QUERIES = (
    "Milind Soman",
    "soman",
    "SOMAN runway",
    '"box office"',
    '"Milind Soman" supermodel',
    '"office box"',
    "Café",
    "cafe",
    "cafés",
    "CAFES",
    "naive",
    "naïve",
    "cycling",
    "cyclists",
    "cycle",
    "films",
    "film OR series",
    "Diwali OR Pilates OR strike",
    "(film OR series) title:Diwali",
    "box office -Diwali",
    "-trailer -film",
    "-Kesar",
    "title:Soman",
    'title:"box office"',
    "author:Tanvi",
    'author:"Meera Iyer"',
    "author:Müller",
    "author:muller",
    "source:marquee-daily",
    "source:reel-news Diwali",
    "source:alerts-example",
    "source:Alerts-Example",
    "Diwali source:spotlight-express",
    "e-mail",
    "—",
    "cycling —",
    "Rehan OR —",
    "zzzzqqqq",
    "Soman zzzzqqqq",
    "the",
)
DAY = datetime(2026, 10, 15, tzinfo=UTC)
FILTERS = (
    SavedFilters(sources=("reel-news",)),
    SavedFilters(sources=("marquee-daily", "spotlight-express")),
    SavedFilters(exclude_sources=("marquee-daily",)),
    SavedFilters(authors=("Tanvi Deshpande", "Meera Iyer")),
    SavedFilters(languages=("hi",)),
    SavedFilters(published_from=DAY),
    SavedFilters(published_to=DAY),
    SavedFilters(published_from=datetime(2026, 10, 1, tzinfo=UTC), published_to=DAY),
    SavedFilters(date_sources=("feed",)),
    SavedFilters(date_sources=(NO_DATE, "meta")),
    SavedFilters(quality="low"),
    SavedFilters(quality="ok"),
    SavedFilters(people=("Milind Soman",)),
    SavedFilters(people=("Naina Sehgal", "Rehan Ali")),
    SavedFilters(people=("Nobody Atall",)),
)
FILTERED = (None, "Milind Soman", "film OR Diwali", "-Kesar", "cafe")


def saved_searches() -> list[SavedSearch]:
    """Every query alone, every filter alone (no query text) and with a few queries."""
    searches = [SavedSearch(name=query, q=query) for query in QUERIES]
    for number, filters in enumerate(FILTERS):
        for query in FILTERED:
            searches.append(SavedSearch(name=f"filters {number}", q=query, filters=filters))
    searches.append(SavedSearch(name="everything"))
    return searches


SEARCHES = saved_searches()


def expected(store: SearchStore, search: SavedSearch, batch: list[Article]) -> list[str]:
    """The store's own hits for the search, restricted to the batch."""
    page = store.search(search.search_query(size=100, collapse=Collapse.NONE, facets=()))
    assert page.total <= 100, "the page must hold every hit"
    ids = {article.id for article in batch}
    return sorted(hit.id for hit in page.hits if hit.id in ids)


@pytest.fixture
def indexed(stores: StorePair) -> Iterator[tuple[SearchStore, Matcher]]:
    stores.writer.upsert(CORPUS)
    reader = stores.open_reader()
    matcher = open_matcher(reader)
    yield reader, matcher
    matcher.close()
    reader.close()


def stored(store: SearchStore, articles: list[Article]) -> list[Article]:
    """The batch as the store holds it, as the alerts worker reads it."""
    held = store.get_many([article.id for article in articles])
    return [held[article.id] for article in articles]


def check(store: SearchStore, matcher: Matcher, batch: list[Article]) -> int:
    found = matcher.match(SEARCHES, batch)
    want = {s.id: ids for s in SEARCHES if (ids := expected(store, s, batch))}
    names = {s.id: (s.q, s.filters) for s in SEARCHES}
    assert {names[k]: v for k, v in found.items()} == {names[k]: v for k, v in want.items()}
    return sum(map(len, want.values()))


def test_a_batch_matches_as_the_store_searches(indexed):
    store, matcher = indexed
    batch = stored(store, CORPUS[::2] + CORPUS[-3:])
    assert check(store, matcher, batch) > 300  # the searches do find things


def test_batches_one_after_another_and_one_article_alone(indexed):
    """The presearcher's index is kept across batches; each batch still matches exactly."""
    store, matcher = indexed
    for batch in (CORPUS[1::2], CORPUS[:1], CORPUS[-2:-1], CORPUS[10:60]):
        check(store, matcher, stored(store, batch))


def test_changed_searches_between_batches(indexed):
    """A search edited, added or removed between batches is matched as it now is."""
    store, matcher = indexed
    batch = stored(store, CORPUS[:30])
    before = SavedSearch(name="soman", q="Milind Soman")
    assert set(matcher.match([before], batch)) == {before.id}
    edited = before.model_copy(update={"q": "Diwali"})
    other = SavedSearch(name="strike", q="strike", filters=SavedFilters(sources=("reel-news",)))
    found = matcher.match([edited, other], batch)
    assert found.get(edited.id) == expected(store, edited, batch)
    assert found.get(other.id, []) == expected(store, other, batch)
    assert matcher.match([], batch) == {}


def test_an_empty_batch_matches_nothing(indexed):
    _, matcher = indexed
    assert matcher.match(SEARCHES, []) == {}


def test_a_batch_stored_but_not_yet_searchable_matches(stores: StorePair):
    """The worker matches once get_many sees the batch; a search may not see it yet (an
    Elasticsearch refresh still to come, refreshes off during bulk_ingest)."""
    batch = CORPUS[:20]
    ingest = getattr(stores.writer, "bulk_ingest", contextlib.nullcontext)
    reader = stores.open_reader()
    matcher = open_matcher(reader)
    with ingest():
        stores.writer.upsert(batch)
        found = matcher.match(SEARCHES, stored(reader, batch))
    want = {s.id: ids for s in SEARCHES if (ids := expected(reader, s, batch))}
    assert found == want
    assert found
    matcher.close()
    reader.close()
