"""bench/story_cases.py: the hard cases of same-story clusters read whole, with labels that
keep the design and held-back parts apart (a story or agency text in two parts would let the
held-back figures leak into the method's design), and copy labels that match the texts."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from itertools import combinations

import pytest

from bench.story_cases import CRAWL_DELAY, HARD_CASES, arrival_orders, hard_cases

PARTS = ("design", "held", "held2")


def test_every_article_of_every_file_is_read_with_its_labels():
    for part in PARTS:
        files = sorted((HARD_CASES / part).glob("*.txt"))
        headers = sum(path.read_text("utf-8").count("\n=== ") for path in files)
        items = hard_cases(part)
        assert len(items) == headers > 0
        assert len({item.article.id for item in items}) == len(items)
        for item in items:
            article = item.article
            assert article.title
            assert not article.title.startswith("title:")
            assert not article.text.startswith("title:")
            assert len(article.text.split()) >= 40
            assert article.published_at is not None
            assert article.crawled_at - article.published_at == CRAWL_DELAY
            assert item.story


def test_the_parts_share_no_story_or_agency_text_and_copies_stay_in_one_story():
    labels = {}
    for part in PARTS:
        items = hard_cases(part)
        labels[part] = {item.story for item in items} | {
            item.duplicate for item in items if item.duplicate
        }
        copies = Counter(item.duplicate for item in items if item.duplicate)
        assert copies
        assert min(copies.values()) >= 2
        for label in copies:
            assert len({item.story for item in items if item.duplicate == label}) == 1
        dates = [item.article.published_at for item in items if item.article.published_at]
        assert max(dates) - min(dates) < timedelta(days=7)
    for first, second in combinations(PARTS, 2):
        assert not labels[first] & labels[second]


def _runs(text: str) -> set[tuple[str, ...]]:
    """Runs of five words: an agency text keeps nearly all of them in every outlet's copy,
    while outlets telling the same event in their own words share almost none."""
    words = text.lower().split()
    return {tuple(words[n : n + 5]) for n in range(len(words) - 4)}


@pytest.mark.parametrize("part", PARTS)
def test_articles_share_text_exactly_when_they_are_copies_of_one_agency_text(part):
    for first, second in combinations(hard_cases(part), 2):
        runs, other = _runs(first.article.text), _runs(second.article.text)
        shared = len(runs & other) / min(len(runs), len(other))
        if first.duplicate and first.duplicate == second.duplicate:
            assert shared > 0.8, (first.article.title, second.article.title)
        else:
            assert shared < 0.2, (first.article.title, second.article.title)


@pytest.mark.parametrize("part", PARTS)
def test_arrival_orders_are_the_same_articles_outlet_by_outlet_both_ways(part):
    items = hard_cases(part)
    orders = arrival_orders(items)
    assert orders["publication"] == items
    for name in ("outlet by outlet", "outlet by outlet, reversed"):
        order = orders[name]
        assert sorted(i.article.id for i in order) == sorted(i.article.id for i in items)
        sources = [item.article.source for item in order]
        runs = [s for n, s in enumerate(sources) if n == 0 or sources[n - 1] != s]
        assert len(runs) == len(set(sources))  # each outlet read in one go
        within = [i for i in order if i.article.source == sources[0]]
        assert within == [i for i in items if i.article.source == sources[0]]
    assert orders["outlet by outlet"][0].article.source == min(i.article.source for i in items)
    assert orders["outlet by outlet, reversed"][0].article.source == max(
        i.article.source for i in items
    )
