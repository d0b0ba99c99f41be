"""What every SearchStore adapter promises, checked on a small fixed corpus."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from newsagg.core.article import Article, DateSource
from newsagg.core.query import parse_query
from newsagg.core.search import SearchQuery, Sort
from support.stores import StorePair


def doc(slug: str, title: str, text: str, day: int, source: str = "marquee", **extra) -> Article:
    fields = {
        "published_at": datetime(2026, 9, day, 9, tzinfo=UTC),
        "date_source": DateSource.JSON_LD,
        "date_confidence": 1.0,
        **extra,
    }
    return Article.create(
        url=f"https://news.example/{slug}",
        source=source,
        title=title,
        text=text,
        crawled_at=datetime(2026, 10, 1, tzinfo=UTC),
        **fields,
    )


CORPUS = [
    doc(
        "cycling",
        "Milind Soman cycles from Baroda to Delhi",
        "Ankita Konwar called it a roadside romance as Milind Soman kept cycling north. "
        "The actor covered 150 km on the first day.",
        6,
        authors=["Priya Nair"],
        language="en",
    ),
    doc(
        "marathon",
        "Milind Soman finishes the Unity Run",
        "Milind Soman ran 416 km barefoot. Fans ran beside him. Cycling was not part of it.",
        3,
        authors=["Dev Mehta"],
        language="en",
    ),
    doc(
        "film",
        "A film about cycling across India",
        "The director spent months cycling the routes her heroine rides. Soman is not in it.",
        9,
        source="reelnews",
        language="en",
    ),
    doc(
        "box-office",
        "Box office: a quiet weekend",
        "Ticket sales dipped for every release this weekend, theatres said.",
        12,
        source="reelnews",
        language="en",
    ),
]


@pytest.fixture
def indexed(stores: StorePair) -> StorePair:
    stores.writer.upsert(CORPUS)
    return stores


def search(stores: StorePair, q: str | None = None, **kwargs):
    reader = stores.open_reader()
    try:
        return reader.search(SearchQuery(query=parse_query(q) if q else None, **kwargs))
    finally:
        reader.close()


def titles(page) -> list[str]:
    return [hit.title for hit in page.hits]


def test_get_returns_the_full_article(indexed: StorePair):
    reader = indexed.open_reader()
    assert reader.get(CORPUS[0].id) == CORPUS[0]
    assert reader.get("0" * 32) is None
    assert reader.count() == len(CORPUS)
    assert reader.health()
    reader.close()


def test_all_words_must_match_and_best_match_ranks_first(indexed: StorePair):
    page = search(indexed, "Milind Soman cycling")
    assert page.total == 2
    assert page.hits[0].id == CORPUS[0].id
    assert page.hits[0].score > page.hits[1].score


def test_title_matches_outrank_body_matches(indexed: StorePair):
    page = search(indexed, "cycling")
    assert page.hits[0].title == "A film about cycling across India"


def test_phrase(indexed: StorePair):
    assert titles(search(indexed, '"roadside romance"')) == [CORPUS[0].title]
    assert search(indexed, '"romance roadside"').total == 0


def test_exclusion(indexed: StorePair):
    assert titles(search(indexed, "cycling -Soman")) == []
    assert {h.id for h in search(indexed, "Soman -barefoot").hits} == {CORPUS[0].id, CORPUS[2].id}


def test_or(indexed: StorePair):
    assert {h.id for h in search(indexed, "barefoot OR ticket").hits} == {
        CORPUS[1].id,
        CORPUS[3].id,
    }


def test_fields(indexed: StorePair):
    assert titles(search(indexed, "title:Soman title:Unity")) == [CORPUS[1].title]
    assert titles(search(indexed, 'author:"Priya Nair"')) == [CORPUS[0].title]
    assert {h.id for h in search(indexed, "source:reelnews").hits} == {CORPUS[2].id, CORPUS[3].id}


def test_stemming_and_case_folding(indexed: StorePair):
    assert CORPUS[0].id in {h.id for h in search(indexed, "CYCLES").hits}
    assert CORPUS[1].id in {h.id for h in search(indexed, "finished").hits}


def test_query_of_only_punctuation_matches_nothing(indexed: StorePair):
    assert search(indexed, "&&& ---").total == 0


def test_filter_by_source(indexed: StorePair):
    page = search(indexed, "cycling", sources=("reelnews",))
    assert titles(page) == [CORPUS[2].title]


def test_filter_by_date_range(indexed: StorePair):
    page = search(
        indexed,
        published_from=datetime(2026, 9, 5, tzinfo=UTC),
        published_to=datetime(2026, 9, 10, tzinfo=UTC),
    )
    assert {h.id for h in page.hits} == {CORPUS[0].id, CORPUS[2].id}


def test_sort_by_date_newest_first(indexed: StorePair):
    page = search(indexed, sort=Sort.DATE)
    assert [h.published_at.day for h in page.hits] == [12, 9, 6, 3]


def test_paging(indexed: StorePair):
    first = search(indexed, sort=Sort.DATE, size=2)
    second = search(indexed, sort=Sort.DATE, size=2, offset=2)
    assert first.total == second.total == 4
    assert len({h.id for h in first.hits + second.hits}) == 4


def test_source_facets(indexed: StorePair):
    facets = {f.value: f.count for f in search(indexed, "cycling").facets["source"]}
    assert facets == {"marquee": 2, "reelnews": 1}


def test_snippets_highlight_the_matched_terms(indexed: StorePair):
    hit = search(indexed, "roadside romance").hits[0]
    assert "<mark>roadside</mark>" in hit.snippet
    assert "<mark>romance</mark>" in hit.snippet


def test_snippets_are_html_escaped(stores: StorePair):
    stores.writer.upsert([doc("xss", "Script", "A <script>alert(1)</script> cycling story", 1)])
    snippet = search(stores, "cycling").hits[0].snippet
    assert "<script>" not in snippet
    assert "&lt;script&gt;" in snippet


def test_upsert_is_idempotent(indexed: StorePair):
    indexed.writer.upsert(CORPUS)
    indexed.writer.upsert(CORPUS[:1])
    assert search(indexed, "Milind").total == 2
    assert indexed.open_reader().count() == len(CORPUS)


def test_newer_crawl_replaces_older(indexed: StorePair):
    newer = CORPUS[0].model_copy(
        update={
            "title": "Updated headline",
            "crawled_at": CORPUS[0].crawled_at + timedelta(hours=1),
        }
    )
    assert indexed.writer.upsert([newer]).written == 1
    assert indexed.open_reader().get(CORPUS[0].id).title == "Updated headline"


def test_older_crawl_never_replaces_newer(indexed: StorePair):
    older = CORPUS[0].model_copy(
        update={"title": "Stale headline", "crawled_at": CORPUS[0].crawled_at - timedelta(hours=1)}
    )
    result = indexed.writer.upsert([older])
    assert (result.written, result.stale) == (0, 1)
    assert indexed.open_reader().get(CORPUS[0].id).title == CORPUS[0].title


def test_newest_wins_within_one_batch(stores: StorePair):
    a = CORPUS[0]
    b = a.model_copy(update={"title": "Later", "crawled_at": a.crawled_at + timedelta(minutes=5)})
    stores.writer.upsert([b, a])
    assert stores.open_reader().get(a.id).title == "Later"


def test_reader_sees_new_commits_within_a_second(stores: StorePair):
    reader = stores.open_reader()
    stores.writer.upsert(CORPUS[:1])
    assert reader.count() in (0, 1)
    deadline = time.monotonic() + 1.0
    while reader.count() < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert reader.count() == 1
    stores.writer.upsert(CORPUS[1:])
    deadline = time.monotonic() + 1.0
    while reader.count() < len(CORPUS) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert reader.count() == len(CORPUS)
    reader.close()


def test_facets_by_author_language_and_day(indexed: StorePair):
    facets = search(indexed, "Soman").facets
    counts = {name: {f.value: f.count for f in values} for name, values in facets.items()}
    assert counts["author"] == {"Priya Nair": 1, "Dev Mehta": 1}
    assert counts["language"] == {"en": 3}
    assert counts["published_day"] == {"2026-09-03": 1, "2026-09-06": 1, "2026-09-09": 1}


def test_similar_finds_related_articles_not_the_article_itself(indexed: StorePair):
    reader = indexed.open_reader()
    hits = reader.similar(CORPUS[0].id, size=3)
    assert hits
    assert CORPUS[0].id not in {h.id for h in hits}
    assert hits[0].id in {CORPUS[1].id, CORPUS[2].id}
    assert reader.similar("0" * 32) == []
    reader.close()


def test_delete_source_removes_that_source_only_and_names_what_it_deleted(indexed: StorePair):
    reel = {a.id for a in CORPUS if a.source == "reelnews"}
    assert sorted(indexed.writer.delete_source("reelnews")) == sorted(reel)
    assert search(indexed).total == len(CORPUS) - len(reel)
    assert {hit.source for hit in search(indexed, size=10).hits} == {"marquee"}
    assert search(indexed, sources=("reelnews",)).total == 0
    assert indexed.writer.delete_source("reelnews") == []  # again: nothing left, no error
    indexed.writer.upsert([a for a in CORPUS if a.source == "reelnews"])
    assert search(indexed, sources=("reelnews",)).total == len(reel)  # a re-crawl restores
