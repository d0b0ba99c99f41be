"""What every SearchStore promises about article schema 3 (issue 18): the enrichment fields
read back, filters and a facet on people, stories and near-duplicate groups collapsed,
group sizes on every hit, LSH candidates, a story's timeline and stories ranked.

The articles arrive enriched (the fields set as the indexer's enrichment stage sets them);
the one left unenriched is its own group and its own story under its id. Every expected
value is computed from CORPUS, and every collapsed order from the store's own uncollapsed
order, so each store is held to the same semantics, not to one ranking.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from newsagg.core.article import Article, DateSource
from newsagg.core.query import Term, parse_query
from newsagg.core.search import Collapse, SearchPage, SearchQuery, Sort
from support.stores import StorePair

CRAWLED = datetime(2026, 10, 1, tzinfo=UTC)
WIRE = (
    "Milind Soman set off from Baroda on Monday, cycling north towards Delhi with Ankita"
    " Konwar. The actor plans to cover 150 km a day along the old highway."
)
ROMANCE = " He said the roadside romance of India never tires him."


def enriched(
    slug: str,
    source: str,
    title: str,
    text: str,
    published: datetime | None,
    *,
    group: str | None = None,
    original: str | None = None,
    story: str | None = None,
    people: tuple[str, ...] = (),
    bands: tuple[str, ...] = (),
    crawled: datetime = CRAWLED,
) -> Article:
    """An article as enrichment leaves it; `group`/`story` default to its own id."""
    article = Article.create(
        url=f"https://{source}.example/{slug}",
        source=source,
        title=title,
        text=text,
        crawled_at=crawled,
        published_at=published,
        date_source=DateSource.JSON_LD if published else None,
        date_confidence=1.0 if published else None,
        mentions=list(people[:1]),
    )
    return article.model_copy(
        update={
            "enrichment": 1,
            "minhash": f"bWluaGFzaC0{slug}",
            "lsh_bands": list(bands),
            "duplicate_group": group or article.id,
            "duplicate_of": original,
            "story_id": story or article.id,
            "people": list(people),
        }
    )


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 9, day, hour, tzinfo=UTC)


SOMAN, KONWAR, JOHAR = "Milind Soman", "Ankita Konwar", "Karan Johar"
A1 = enriched(
    "soman-cycles",
    "marquee",
    "Milind Soman cycles from Baroda to Delhi",
    WIRE + ROMANCE,
    at(6, 9),
    people=(SOMAN, KONWAR),
    bands=("0-aaaa", "1-bbbb"),
)
A2 = enriched(
    "actor-pedals",
    "reelnews",
    "Actor Milind Soman pedals to Delhi",
    "Watch: the fitness icon is on the road again. " + WIRE,
    at(6, 11),
    group=A1.id,
    original=A1.id,
    story=A1.id,
    people=(SOMAN, KONWAR),
    bands=("0-aaaa", "1-cccc"),
)
A3 = enriched(
    "ride-begins",
    "dailyglobe",
    "Soman's Baroda-Delhi ride begins",
    WIRE + ROMANCE + " Reporting by agency staff in Vadodara, edited by the news desk.",
    at(6, 15),
    group=A1.id,
    original=A1.id,
    story=A1.id,
    people=(SOMAN,),
    bands=("0-dddd", "1-bbbb"),
)
A4 = enriched(
    "jaipur",
    "reelnews",
    "Soman reaches Jaipur on day three of his ride",
    "Milind Soman reached Jaipur on Wednesday after three days of cycling. Crowds gathered"
    " at the city gate to cheer the actor on.",
    at(8, 8),
    story=A1.id,
    people=(SOMAN,),
    bands=("0-eeee", "1-ffff"),
)
B1 = enriched(
    "unity-run",
    "marquee",
    "Milind Soman finishes the Unity Run",
    "Milind Soman ran 416 km barefoot across Gujarat. Fans ran beside him at every town.",
    at(3, 9),
    people=(SOMAN,),
    bands=("0-gggg", "1-hhhh"),
)
B2 = enriched(
    "run-ends",
    "dailyglobe",
    "Unity Run ends for Milind Soman",
    "Milind Soman ran 416 km barefoot across Gujarat. Fans ran beside him.",
    at(3, 12),
    group=B1.id,
    original=B1.id,
    story=B1.id,
    people=(SOMAN,),
    bands=("0-gggg", "1-iiii"),
)
C1 = enriched(
    "box-office",
    "reelnews",
    "Box office: a quiet weekend",
    "Ticket sales dipped for every release this weekend, theatres said. Karan Johar blamed"
    " the rain.",
    at(12, 9),
    people=(JOHAR,),
    bands=("0-jjjj", "1-kkkk"),
)
C2 = enriched(
    "slow-weekend",
    "marquee",
    "Theatres count a slow weekend",
    "Cinemas reported thin crowds over the weekend as the monsoon lingered.",
    None,
    story=C1.id,
    bands=("0-llll", "1-mmmm"),
    crawled=at(11, 10),
)
UNENRICHED = Article.create(
    url="https://reelnews.example/film",
    source="reelnews",
    title="A film about cycling across India",
    text="The director spent months cycling the routes her heroine rides. Soman is not in it.",
    crawled_at=CRAWLED,
    published_at=at(9),
    date_source=DateSource.JSON_LD,
    date_confidence=1.0,
)
CORPUS = [A1, A2, A3, A4, B1, B2, C1, C2, UNENRICHED]


def duplicate_key(article: Article) -> str:
    return article.duplicate_group or article.id


def story_key(article: Article) -> str:
    return article.story_id or article.id


def seen(article: Article) -> datetime:
    return article.published_at or article.crawled_at


GROUP_KEYS = {Collapse.DUPLICATES: duplicate_key, Collapse.STORIES: story_key}
BY_ID = {article.id: article for article in CORPUS}


@pytest.fixture
def indexed(stores: StorePair) -> StorePair:
    stores.writer.upsert(CORPUS)
    return stores


def ask(stores: StorePair, q: str | None = None, **kwargs) -> SearchPage:
    reader = stores.open_reader()
    try:
        return reader.search(SearchQuery(query=parse_query(q) if q else None, **kwargs))
    finally:
        reader.close()


def ids(page: SearchPage) -> list[str]:
    return [hit.id for hit in page.hits]


def test_enrichment_fields_round_trip(indexed: StorePair):
    reader = indexed.open_reader()
    try:
        for article in CORPUS:
            assert reader.get(article.id) == article
        assert reader.get_many([a.id for a in CORPUS]) == BY_ID
    finally:
        reader.close()


def test_hits_carry_the_enrichment_fields(indexed: StorePair):
    page = ask(indexed, size=len(CORPUS))
    assert len(page.hits) == len(CORPUS)
    for hit in page.hits:
        article = BY_ID[hit.id]
        assert (hit.story_id, hit.duplicate_group, hit.duplicate_of, hit.people) == (
            article.story_id,
            article.duplicate_group,
            article.duplicate_of,
            article.people,
        )


@pytest.mark.parametrize(
    "people",
    [(KONWAR,), (KONWAR, JOHAR), (SOMAN,), ("milind soman",), ("Nobody Here",)],
)
def test_filter_by_people_matches_any_of_the_exact_names(indexed: StorePair, people):
    expected = {a.id for a in CORPUS if set(a.people) & set(people)}
    page = ask(indexed, people=people, size=len(CORPUS))
    assert set(ids(page)) == expected
    assert page.total == len(expected)


def test_filter_by_story_ids(indexed: StorePair):
    assert set(ids(ask(indexed, story_ids=(A1.id,)))) == {A1.id, A2.id, A3.id, A4.id}
    both = ask(indexed, story_ids=(B1.id, C1.id), sources=("marquee",))
    assert set(ids(both)) == {B1.id, C2.id}
    assert ask(indexed, story_ids=("f" * 32,)).total == 0


def test_person_facet_counts_the_matches(indexed: StorePair):
    page = ask(indexed, "Soman", facets=("person",))
    matched = [BY_ID[i] for i in ids(page)]
    assert page.total == len(matched) == 7
    expected = Counter(name for article in matched for name in article.people)
    assert {f.value: f.count for f in page.facets["person"]} == dict(expected)


def expected_collapse(full: SearchPage, collapse: Collapse) -> list[str]:
    """The first hit of each group in the uncollapsed order: each group's best hit."""
    key = GROUP_KEYS[collapse]
    firsts: dict[str, str] = {}
    for hit in full.hits:
        firsts.setdefault(key(BY_ID[hit.id]), hit.id)
    return list(firsts.values())


SEARCHES = [
    pytest.param("Soman", Sort.RELEVANCE, id="relevance"),
    pytest.param("Soman", Sort.DATE, id="query-by-date"),
    pytest.param(None, Sort.DATE, id="all-by-date"),
]


@pytest.mark.parametrize("collapse", [Collapse.DUPLICATES, Collapse.STORIES])
@pytest.mark.parametrize(("q", "sort"), SEARCHES)
def test_collapse_keeps_each_groups_best_hit(indexed: StorePair, q, sort, collapse):
    full = ask(indexed, q, sort=sort, size=len(CORPUS))
    if sort == Sort.RELEVANCE:  # the premise: no ties for a store to break its own way
        assert len({hit.score for hit in full.hits}) == len(full.hits)
    assert full.groups is None
    expected = expected_collapse(full, collapse)
    page = ask(indexed, q, sort=sort, size=len(CORPUS), collapse=collapse)
    assert ids(page) == expected
    assert page.total == full.total
    assert page.groups == len(expected)
    assert len(expected) < full.total  # the corpus has groups of several under each search


@pytest.mark.parametrize("collapse", [Collapse.DUPLICATES, Collapse.STORIES])
@pytest.mark.parametrize(("q", "sort"), SEARCHES)
def test_collapsed_pages_follow_offset_and_ignore_after(indexed: StorePair, q, sort, collapse):
    whole = ask(indexed, q, sort=sort, size=len(CORPUS), collapse=collapse)
    paged: list[str] = []
    for offset in range(0, len(whole.hits), 2):
        page = ask(indexed, q, sort=sort, size=2, offset=offset, collapse=collapse)
        assert (page.total, page.groups) == (whole.total, whole.groups)
        paged.extend(ids(page))
    assert paged == ids(whole)
    first = ask(indexed, q, sort=sort, size=2, collapse=collapse)
    assert first.last_sort is not None
    resumed = ask(indexed, q, sort=sort, size=2, offset=2, after=first.last_sort, collapse=collapse)
    assert ids(resumed) == ids(whole)[2:4]


def test_collapse_combines_with_filters(indexed: StorePair):
    page = ask(indexed, sort=Sort.DATE, sources=("reelnews",), collapse=Collapse.STORIES)
    assert ids(page) == [C1.id, UNENRICHED.id, A4.id]
    assert (page.total, page.groups) == (4, 3)


def expected_sizes(article: Article) -> tuple[int, int, int]:
    story = [a for a in CORPUS if story_key(a) == story_key(article)]
    return (
        sum(duplicate_key(a) == duplicate_key(article) for a in CORPUS),
        len(story),
        len({a.source for a in story}),
    )


@pytest.mark.parametrize(
    "query",
    [
        SearchQuery(size=len(CORPUS)),
        SearchQuery(sources=("dailyglobe",)),
        SearchQuery(query=parse_query('"roadside romance"')),
        SearchQuery(query=parse_query("Soman"), collapse=Collapse.DUPLICATES),
        SearchQuery(sort=Sort.DATE, collapse=Collapse.STORIES),
    ],
    ids=["all", "one-source", "phrase", "collapsed", "stories"],
)
def test_hit_sizes_count_the_whole_index_not_the_query(indexed: StorePair, query):
    reader = indexed.open_reader()
    try:
        page = reader.search(query)
    finally:
        reader.close()
    assert page.hits
    sizes = {h.id: (h.duplicates, h.story_size, h.story_sources) for h in page.hits}
    assert sizes == {h.id: expected_sizes(BY_ID[h.id]) for h in page.hits}


def test_hit_sizes_of_the_wire_story(indexed: StorePair):
    hit = ask(indexed, '"roadside romance"', sources=("marquee",)).hits[0]
    assert hit.id == A1.id
    assert (hit.duplicates, hit.story_size, hit.story_sources) == (3, 4, 3)
    alone = ask(indexed, sources=("reelnews",)).hits
    unenriched = next(h for h in alone if h.id == UNENRICHED.id)
    assert (unenriched.duplicates, unenriched.story_size, unenriched.story_sources) == (1, 1, 1)


@pytest.mark.parametrize(
    "bands",
    [("0-aaaa",), ("1-bbbb", "0-eeee"), ("0-gggg", "1-zzzz"), ("9-none",), ()],
)
def test_near_duplicates_finds_the_articles_holding_any_band(indexed: StorePair, bands):
    reader = indexed.open_reader()
    try:
        found = reader.near_duplicates(list(bands))
    finally:
        reader.close()
    expected = [a for a in CORPUS if set(a.lsh_bands) & set(bands)]
    assert sorted(found, key=lambda a: a.id) == sorted(expected, key=lambda a: a.id)
    assert all(article.minhash for article in found)


def test_near_duplicates_returns_at_most_size(indexed: StorePair):
    reader = indexed.open_reader()
    try:
        found = reader.near_duplicates(["0-aaaa", "1-bbbb", "0-gggg"], size=2)
    finally:
        reader.close()
    assert len(found) == 2
    assert {a.id for a in found} <= {A1.id, A2.id, A3.id, B1.id, B2.id}


def test_story_lists_its_articles_oldest_first(indexed: StorePair):
    reader = indexed.open_reader()
    try:
        for story_id in {story_key(a) for a in CORPUS}:
            members = sorted((a for a in CORPUS if story_key(a) == story_id), key=seen)
            assert [h.id for h in reader.story(story_id)] == [a.id for a in members]
        assert [h.id for h in reader.story(C1.id)] == [C2.id, C1.id]  # C2's crawl time
        assert [h.id for h in reader.story(A1.id, size=2)] == [A1.id, A2.id]
        assert reader.story("f" * 32) == []
        hit = reader.story(A1.id)[-1]
        assert (hit.story_id, hit.story_size, hit.story_sources) == (A1.id, 4, 3)
    finally:
        reader.close()


def expected_summary(story_id: str) -> dict:
    members = sorted((a for a in CORPUS if story_key(a) == story_id), key=seen)
    names = Counter(name for a in members for name in a.people)
    return {
        "id": story_id,
        "title": members[0].title,
        "size": len(members),
        "sources": list(dict.fromkeys(a.source for a in members)),
        "first_publisher": members[0].source,
        "first_url": members[0].url,
        "first_seen": seen(members[0]),
        "last_seen": seen(members[-1]),
        "people": sorted(names, key=lambda name: (-names[name], name)),
    }


@pytest.mark.parametrize(
    ("q", "sort", "filters"),
    [
        ("Soman", Sort.RELEVANCE, {}),
        ("Soman", Sort.DATE, {}),
        (None, Sort.DATE, {}),
        ("weekend", Sort.RELEVANCE, {}),
        (None, Sort.DATE, {"sources": ("dailyglobe",)}),
    ],
)
def test_stories_are_ranked_like_the_collapsed_search(indexed: StorePair, q, sort, filters):
    query = SearchQuery(query=parse_query(q) if q else None, sort=sort, **filters)
    reader = indexed.open_reader()
    try:
        collapsed = reader.search(
            query.model_copy(update={"collapse": Collapse.STORIES, "size": len(CORPUS)})
        )
        count, summaries = reader.stories(query, size=len(CORPUS))
    finally:
        reader.close()
    expected = [story_key(BY_ID[i]) for i in ids(collapsed)]
    assert [s.id for s in summaries] == expected
    assert count == collapsed.groups == len(expected)
    for summary in summaries:  # the whole story, whichever of its articles matched
        assert summary.model_dump() == expected_summary(summary.id)


def test_stories_of_the_wire_story_and_the_page_size(indexed: StorePair):
    reader = indexed.open_reader()
    try:
        count, summaries = reader.stories(SearchQuery(sort=Sort.DATE), size=2)
        _, soman = reader.stories(SearchQuery(query=parse_query("Jaipur")))
    finally:
        reader.close()
    assert count == 4
    assert [s.id for s in summaries] == [C1.id, UNENRICHED.id]
    assert summaries[0].first_publisher == "marquee"  # C2, seen before C1 was published
    assert [s.id for s in soman] == [A1.id]
    assert soman[0].sources == ["marquee", "reelnews", "dailyglobe"]
    assert (soman[0].size, soman[0].people) == (4, [SOMAN, KONWAR])
    assert (soman[0].first_seen, soman[0].last_seen) == (A1.published_at, A4.published_at)


WIRE_WEEK = {"published_from": at(5), "published_to": at(9)}
MATCHING = [
    SearchQuery(query=parse_query("Soman")),
    SearchQuery(query=parse_query("Soman"), sort=Sort.DATE, size=3),
    SearchQuery(sort=Sort.DATE, size=len(CORPUS)),
    SearchQuery(query=parse_query("Soman OR cycling OR Baroda OR weekend"), **WIRE_WEEK),
    SearchQuery(query=parse_query("Soman"), size=2, offset=2),
    SearchQuery(query=parse_query("weekend"), sources=("marquee",)),
    SearchQuery(query=parse_query("nowhere")),
    SearchQuery(query=Term("--")),
]


def test_articles_matching_is_each_querys_search_page_as_whole_articles(indexed: StorePair):
    reader = indexed.open_reader()
    try:
        pages = reader.articles_matching(MATCHING * 8)  # 56 searches: more than one _msearch
        expected = [ids(reader.search(query)) for query in MATCHING] * 8
        dated = SearchQuery(sort=Sort.DATE, size=3)
        cursor = reader.search(dated).last_sort
        after = dated.model_copy(update={"after": cursor})
        resumed = reader.articles_matching([after])
        assert [a.id for a in resumed[0]] == ids(reader.search(after))
    finally:
        reader.close()
    assert [[a.id for a in page] for page in pages] == expected
    assert all(article == BY_ID[article.id] for page in pages for article in page)
    assert [len(page) for page in pages[6:8]] == [0, 0]  # no match, and no searchable word
    assert sum(map(len, pages[:6])) > len(CORPUS)  # the premise: pages that find articles


def test_articles_matching_refuses_to_collapse_and_takes_no_queries(indexed: StorePair):
    reader = indexed.open_reader()
    try:
        assert reader.articles_matching([]) == []
        with pytest.raises(ValueError, match="collapse"):
            reader.articles_matching([SearchQuery(collapse=Collapse.STORIES)])
    finally:
        reader.close()
