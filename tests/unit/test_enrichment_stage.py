"""The enrichment stage on a real (embedded) store: near-duplicate fingerprints, groups and
originals, stories and the idempotence of a re-delivery.

The texts: a small agency story, an outlet's rewrite of it (own standfirst, a paragraph
dropped, two swapped), the same event in other words, and another story on the same
person. The demo's labelled set is measured by bench/stories.py and
tests/integration/test_indexer_enrichment.py.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.article import Article, DateSource
from newsagg.core.enrichment import ENRICHMENT_VERSION, Enricher, EnrichmentSettings
from newsagg.core.enrichment.minhash import BANDS, Fingerprint, fingerprint, normalise, shingles
from newsagg.core.enrichment.stories import (
    QUERY_TERMS,
    STOPWORDS,
    Vocabulary,
    similarities,
    story_words,
)
from newsagg.core.query import Or, Term

AGENCY = """\
Milind Soman set off from Baroda on Sunday morning on a 1000 km cycle ride to Delhi, \
raising money for a children's sports charity in Gujarat and Rajasthan.

The 58-year-old model and actor plans to cover about 150 km a day, riding through Udaipur, \
Ajmer and Jaipur before reaching the capital next weekend, his team said in a statement.

His wife Ankita Konwar is following the ride by car and posted a video from the passenger \
seat, calling it a roadside romance as he waved at the camera near the 150th kilometre.

Fans gathered at several villages along the highway, and Soman stopped to ask them for \
push-ups in return for selfies, a habit from his long runs that his followers now expect.

Soman said the ride was a way to show that endurance sport is for everyone. "You do not \
need expensive equipment, you need a bicycle, water and a reason," he told reporters.

The charity said the ride had already raised enough to equip three rural schools with \
football kits, and hoped the total would double by the time he reaches Delhi.
"""

OTHER_SAME_PERSON = """\
Milind Soman has been cast as a retired detective in the streaming thriller The Long \
Watch, the platform announced on Thursday, his first series role in six years.

The eight-episode show follows a former officer who returns to a hill town when a \
cold case reopens, and is directed by Farah Qadri, who made the crime drama Dhuaan.

Qadri said she wanted an actor who could play stillness. "Milind carries a whole past in \
the way he sits in a chair," she told a press event in Mumbai.

Filming begins in Shimla in January and the series is due to stream next autumn, with \
Ishita Rao playing a young inspector who reluctantly works alongside him.
"""

SAME_EVENT_OTHER_WORDS = """\
Actor Milind Soman began a thousand-kilometre bicycle journey from Baroda to Delhi this \
week to fund sports kits for village schools.

Riding roughly 150 km daily, the fitness icon will pass through Udaipur, Ajmer and Jaipur. \
Ankita Konwar, his wife, is travelling alongside in a support car and sharing clips online.

Supporters lined roads in small towns to greet him, many of them doing push-ups on the \
tarmac for a photograph with the actor.
"""

STANDFIRST = (
    "Fitness icon takes to the highway again, with his wife cheering from the car. Here is "
    "everything we know about the route, the cause and the selfie push-ups."
)


def outlet_copy(text: str) -> str:
    """An outlet's version: its own standfirst, the last paragraph dropped, two swapped."""
    paragraphs = text.strip().split("\n\n")[:-1]
    paragraphs[1], paragraphs[2] = paragraphs[2], paragraphs[1]
    return "\n\n".join([STANDFIRST, *paragraphs])


def article(
    slug: str,
    text: str,
    *,
    title: str,
    source: str = "wire",
    published: datetime | None = None,
    crawled: datetime | None = None,
    mentions: tuple[str, ...] = (),
) -> Article:
    """An article as the crawler publishes it (not enriched)."""
    published = published or datetime(2026, 9, 14, 6, tzinfo=UTC)
    return Article.create(
        url=f"https://{source}.example/{slug}",
        source=source,
        title=title,
        text=text,
        published_at=published,
        date_source=DateSource.JSON_LD,
        crawled_at=crawled or published + timedelta(minutes=30),
        mentions=list(mentions),
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TantivyStore]:
    opened = TantivyStore(tmp_path / "index", writable=True)
    opened.ensure_schema()
    yield opened
    opened.close()


def enrich_in_turn(store: TantivyStore, *articles: Article) -> list[Article]:
    """Each article enriched and written on its own, as consecutive batches would."""
    enricher = Enricher(store)
    for item in articles:
        store.upsert(enricher.enrich([item]))
    held = store.get_many([item.id for item in articles])
    return [held[item.id] for item in articles]


WIRE = article("soman-ride", AGENCY, title="Milind Soman begins 1000 km ride to Delhi")
COPY = article(
    "soman-cycles",
    outlet_copy(AGENCY),
    title="Roadside romance! Ankita cheers Milind on his Baroda-Delhi ride",
    source="outlet",
    published=datetime(2026, 9, 14, 9, tzinfo=UTC),
)
OTHER_WORDS = article(
    "soman-bicycle-journey",
    SAME_EVENT_OTHER_WORDS,
    title="Milind Soman cycles from Baroda to Delhi for village schools",
    source="daily",
    published=datetime(2026, 9, 15, 8, tzinfo=UTC),
)
SERIES = article(
    "soman-long-watch",
    OTHER_SAME_PERSON,
    title="Milind Soman to play a retired detective in The Long Watch",
    source="daily",
    published=datetime(2026, 9, 15, 10, tzinfo=UTC),
    mentions=("Milind Soman", "Farah Qadri"),
)


# Fingerprints


def test_an_outlets_copy_is_similar_and_shares_band_keys():
    original, original_bands = fingerprint(AGENCY)
    copy, copy_bands = fingerprint(outlet_copy(AGENCY))
    assert copy.jaccard(original) >= EnrichmentSettings().duplicate_jaccard
    assert set(original_bands) & set(copy_bands)


def test_a_trimmed_copy_is_contained_in_its_original():
    paragraphs = AGENCY.split("\n\n")
    trimmed = "\n\n".join(paragraphs[: len(paragraphs) // 2])
    original, _ = fingerprint(AGENCY)
    short, _ = fingerprint(trimmed)
    assert short.jaccard(original) < 0.7
    assert short.containment(original) >= 0.8
    assert 0.3 <= short.size_ratio(original) < 0.7


def test_another_story_on_the_same_person_is_not_similar():
    first, first_bands = fingerprint(AGENCY)
    other, other_bands = fingerprint(OTHER_SAME_PERSON)
    assert first.jaccard(other) < 0.1
    assert first.containment(other) < 0.2
    assert not set(first_bands) & set(other_bands)


def test_band_keys_are_short_ascii_one_per_band():
    _, bands = fingerprint(AGENCY)
    assert len(bands) == BANDS == len({key[:2] for key in bands})
    assert all(key.isascii() and len(key) == 14 for key in bands)


def test_the_stored_form_reads_back_and_refuses_other_encodings():
    print_, _ = fingerprint(AGENCY)
    back = Fingerprint.decode(print_.encode())
    assert back is not None
    assert back.shingles == print_.shingles
    assert back.jaccard(print_) == 1.0
    assert Fingerprint.decode("not base64!") is None
    assert Fingerprint.decode("AAAA") is None


def test_normalisation_ignores_case_accents_and_punctuation():
    assert normalise("Café, CAFE! café.") == ["cafe", "cafe", "cafe"]
    assert shingles("One two three") == {"one two three"}
    empty, bands = fingerprint("...")
    assert (empty.shingles, bands) == (0, [])


# Story similarity


def test_the_same_event_in_other_words_scores_above_another_story_on_the_person():
    people = ["Milind Soman", "Ankita Konwar"]
    vocabulary = Vocabulary()
    wire = vocabulary.vector(story_words(WIRE.title, WIRE.text, people).terms())
    same = vocabulary.vector(story_words(OTHER_WORDS.title, OTHER_WORDS.text, people).terms())
    series = vocabulary.vector(
        story_words(SERIES.title, SERIES.text, ["Milind Soman", "Farah Qadri"]).terms()
    )
    threshold = EnrichmentSettings().story_similarity
    same_event, other_story = similarities(wire, [same, series])
    assert same_event >= threshold > other_story


def cosine(first: Counter[str], other: Counter[str], documents: list[Counter[str]]) -> float:
    """The similarity term by term: log-scaled counts, weighted by the inverse document
    frequency over `documents` plus the 8 notional documents holding none of the terms."""
    held = Counter(term for terms in documents for term in terms)
    total = len(documents) + 8

    def vector(terms: Counter[str]) -> dict[str, float]:
        return {t: (1 + math.log(n)) * math.log(total / (held[t] + 0.5)) for t, n in terms.items()}

    a, b = vector(first), vector(other)
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return sum(v * b.get(t, 0.0) for t, v in a.items()) / norm if norm else 0.0


def test_similarities_are_the_weighted_cosine_of_each_candidate():
    first = Counter({"soman": 3, "cycle": 2, "baroda": 1, "delhi": 1})
    others = [
        Counter({"soman": 1, "cycle": 1, "delhi": 4, "jaipur": 1}),
        Counter({"soman": 2, "unity": 1, "run": 3}),
        Counter({"budget": 1, "tax": 2}),
        Counter(),
        first,
    ]
    vocabulary = Vocabulary()
    vectors = [vocabulary.vector(terms) for terms in [first, *others]]
    scores = similarities(vectors[0], vectors[1:])
    expected = [cosine(first, other, [first, *others]) for other in others]
    assert scores == pytest.approx(expected, rel=1e-12)
    assert scores[2] == scores[3] == 0.0  # nothing shared; no terms at all
    assert scores[4] == pytest.approx(1.0)
    assert similarities(vectors[0], []) == []
    assert similarities(vocabulary.vector(Counter()), vectors[1:3]) == [0.0, 0.0]


def test_the_candidate_search_is_bounded_and_has_no_stop_words():
    query = story_words(WIRE.title, WIRE.text, ["Milind Soman"]).query()
    assert isinstance(query, Or)
    words = [term.text for term in query.children if isinstance(term, Term)]
    assert len(words) == len(query.children) <= QUERY_TERMS
    assert "milind" in words
    assert not set(words) & STOPWORDS


# The Enricher on a store


def test_a_copy_joins_its_originals_group_and_story(store: TantivyStore):
    wire, copy = enrich_in_turn(store, WIRE, COPY)
    assert wire.enrichment == copy.enrichment == ENRICHMENT_VERSION
    assert wire.duplicate_group == copy.duplicate_group == wire.id
    assert (wire.duplicate_of, copy.duplicate_of) == (None, wire.id)
    assert wire.story_id == copy.story_id == wire.id
    assert "Milind Soman" in copy.people


def test_the_batchs_earlier_articles_are_candidates_too(store: TantivyStore):
    wire, copy = Enricher(store).enrich([WIRE, COPY])
    assert copy.duplicate_group == wire.id
    assert copy.duplicate_of == wire.id
    assert copy.story_id == wire.story_id == wire.id


def test_the_same_event_in_other_words_joins_the_story_but_not_the_group(store: TantivyStore):
    wire, other = enrich_in_turn(store, WIRE, OTHER_WORDS)
    assert other.story_id == wire.id
    assert other.duplicate_group == other.id
    assert other.duplicate_of is None


def test_the_same_person_in_an_unrelated_story_does_not_merge(store: TantivyStore):
    wire, series = enrich_in_turn(store, WIRE, SERIES)
    assert series.story_id == series.id != wire.story_id
    assert series.duplicate_group == series.id
    assert series.people[:2] == ["Milind Soman", "Farah Qadri"]


def test_a_story_outside_the_window_is_not_joined(store: TantivyStore):
    late = OTHER_WORDS.model_copy(
        update={"published_at": WIRE.published_at + timedelta(hours=73)}  # type: ignore[operator]
    )
    wire, other = enrich_in_turn(store, WIRE, late)
    assert other.story_id == other.id != wire.id


def test_a_candidates_similarity_falls_with_the_days_between_them(tmp_path: Path):
    """Joined when cosine / (1 + story_decay x days apart) reaches the threshold: at two
    days apart, a decay a little under the edge joins, a little over it does not."""
    apart = timedelta(days=2)
    late = OTHER_WORDS.model_copy(update={"published_at": WIRE.published_at + apart})  # type: ignore[operator]

    def enriched(decay: float, name: str) -> tuple[Article, Article]:
        opened = TantivyStore(tmp_path / name, writable=True)
        opened.ensure_schema()
        try:
            enricher = Enricher(opened, EnrichmentSettings(story_decay=decay))
            for item in (WIRE, late):
                opened.upsert(enricher.enrich([item]))
            held = opened.get_many([WIRE.id, late.id])
            return held[WIRE.id], held[late.id]
        finally:
            opened.close()

    wire, other = enriched(0.0, "timeless")
    assert other.story_id == wire.id
    vocabulary = Vocabulary()
    (cosine,) = similarities(
        vocabulary.vector(story_words(other.title, other.text, other.people).terms()),
        [vocabulary.vector(story_words(wire.title, wire.text, wire.people).terms())],
    )
    edge = (cosine / EnrichmentSettings().story_similarity - 1) / (apart / timedelta(days=1))
    assert edge > 0
    wire, other = enriched(edge * 0.95, "under")
    assert other.story_id == wire.id
    wire, other = enriched(edge * 1.05, "over")
    assert other.story_id == other.id != wire.id


def test_an_earlier_copy_seen_later_becomes_the_original_and_the_group_is_repointed(
    store: TantivyStore,
):
    earlier = article(
        "soman-early",
        outlet_copy(AGENCY),
        title="Milind Soman rides again",
        source="early",
        published=WIRE.published_at - timedelta(hours=1),  # type: ignore[operator]
        crawled=WIRE.crawled_at + timedelta(hours=5),
    )
    enrich_in_turn(store, WIRE, COPY)
    result = Enricher(store).enrich_batch([earlier])
    first = result.articles[0]
    assert first.duplicate_group == WIRE.id
    assert first.duplicate_of is None
    assert {a.id: a.duplicate_of for a in result.repointed} == {
        WIRE.id: earlier.id,
        COPY.id: earlier.id,
    }
    store.upsert([*result.articles, *result.repointed])
    held = store.get_many([WIRE.id, COPY.id, earlier.id])
    assert {a.duplicate_of for a in held.values()} == {earlier.id, None}
    assert len({a.duplicate_group for a in held.values()}) == 1


def test_an_earlier_copy_seen_later_decides_the_groups_story_again(store: TantivyStore):
    """The copy indexed first put the text in another story (here: any candidate would do);
    the original, seen later, finds the story again without its own copies as candidates,
    and the copy follows it."""
    (series,) = enrich_in_turn(store, SERIES)
    store.upsert(Enricher(store, EnrichmentSettings(story_similarity=0.0)).enrich([COPY]))
    assert store.get_many([COPY.id])[COPY.id].story_id == series.story_id
    strict = Enricher(store, EnrichmentSettings(story_similarity=0.99))
    result = strict.enrich_batch([WIRE])
    (wire,) = result.articles
    assert wire.duplicate_of is None
    assert wire.story_id == WIRE.id
    assert {a.id: (a.duplicate_of, a.story_id) for a in result.repointed} == {
        COPY.id: (WIRE.id, WIRE.id)
    }


def test_redelivering_an_unchanged_article_keeps_its_group_and_story(store: TantivyStore):
    wire, copy = enrich_in_turn(store, WIRE, COPY)
    result = Enricher(store).enrich_batch([COPY, WIRE])
    assert result.unchanged == 2
    assert result.articles == [copy, wire]
    assert result.repointed == []


def test_a_new_revision_is_enriched_again_and_keeps_its_story(store: TantivyStore):
    enrich_in_turn(store, WIRE, SERIES)
    changed = SERIES.model_copy(
        update={
            "text": SERIES.text + "\n\nProduction was delayed by a week of snow.",
            "content_hash": "0" * 32,
            "crawled_at": SERIES.crawled_at + timedelta(hours=2),
        }
    )
    (again,) = Enricher(store).enrich([changed])
    assert again.enrichment == ENRICHMENT_VERSION
    assert again.minhash != store.get(SERIES.id).minhash  # type: ignore[union-attr]
    assert again.story_id == SERIES.id


def test_articles_enriched_by_another_method_version_are_not_candidates(store: TantivyStore):
    (wire,) = Enricher(store).enrich([WIRE])
    store.upsert([wire.model_copy(update={"enrichment": ENRICHMENT_VERSION - 1})])
    (copy,) = Enricher(store).enrich([COPY])
    assert copy.duplicate_group == copy.id
    assert copy.story_id == copy.id


def test_a_copy_similar_to_two_groups_merges_them(store: TantivyStore):
    paragraphs = AGENCY.strip().split("\n\n")
    head = article(
        "soman-head",
        "\n\n".join(paragraphs[:3]),
        title="Milind Soman sets off",
        source="head",
        published=WIRE.published_at,
    )
    tail = article(
        "soman-tail",
        "\n\n".join(paragraphs[3:]),
        title="Push-ups for selfies on the road to Delhi",
        source="tail",
        published=WIRE.published_at + timedelta(hours=1),  # type: ignore[operator]
    )
    whole = article(
        "soman-whole",
        AGENCY,
        title="Milind Soman's 1000 km ride",
        source="whole",
        published=WIRE.published_at + timedelta(hours=2),  # type: ignore[operator]
    )
    first, second = enrich_in_turn(store, head, tail)
    assert first.duplicate_group != second.duplicate_group
    merged = Enricher(store).enrich_batch([whole])
    store.upsert([*merged.articles, *merged.repointed])
    held = store.get_many([head.id, tail.id, whole.id])
    assert {a.duplicate_group for a in held.values()} == {merged.articles[0].duplicate_group}
    assert {a.id: a.duplicate_of for a in held.values()} == {
        head.id: None,
        tail.id: head.id,
        whole.id: head.id,
    }
    assert len({a.story_id for a in held.values()}) == 1
