"""The ensembles bench/extraction.py --cv considers: how each combines the texts of one page."""

from __future__ import annotations

from lxml import html as lxml_html

from bench.extraction_ensemble import (
    PRECISION,
    Ensemble,
    agreement,
    combine,
    ensembles,
    reference_texts,
)

STORY = (
    "The council approved the new budget on Tuesday after a long debate.\n"
    "Spending on schools rises by four percent, the mayor said in a statement."
)
CHROME = "Sign up for our newsletter and get the best stories in your inbox every morning"
PAGE = f"""<html><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li></ul></nav>
<article><h1>Council approves budget</h1>
<p>{STORY.splitlines()[0]} The vote was seven to two, and
the opposition walked out of the chamber before the final reading of the bill.</p>
<p>{STORY.splitlines()[1]} Teachers' unions welcomed the
rise but asked for more, and said that they would return to the council in the spring.</p>
<p>Roads and parks keep last year's money, and the library opens on Sundays again, which is
what the residents of the north side had asked for in the petition they sent last year.</p>
</article>
<footer><p>Copyright 2026 The Valley Tribune. All rights reserved.</p></footer>
</body></html>"""


def test_agreement_is_the_dice_of_word_pairs():
    assert agreement(STORY, STORY) == 1.0
    assert agreement(STORY, "") == 0.0
    assert agreement("the budget passed", "The budget passed today") == 2 * 2 / (2 + 3)


def test_pick_takes_the_precision_text_only_when_it_agrees_better_with_the_references():
    noisy = f"{STORY}\n{CHROME}"
    others = {PRECISION: STORY, "readability": STORY, "justext": noisy}
    by_readability = Ensemble("pick", ("readability",))
    assert combine(by_readability, noisy, others) == STORY
    assert combine(Ensemble("pick", ("justext",)), noisy, others) == noisy
    assert combine(Ensemble("pick", ("readability",), threshold=0.9), noisy, others) == noisy


def test_vote_keeps_a_paragraph_held_by_enough_voters():
    noisy = f"{STORY}\n{CHROME}"
    others = {PRECISION: STORY, "readability": noisy, "justext": STORY}
    voters = (PRECISION, "readability", "justext")
    assert combine(Ensemble("vote", voters, k=2, threshold=0.5), noisy, others) == STORY
    assert combine(Ensemble("vote", voters, k=1, threshold=0.5), noisy, others) == noisy


def test_length_takes_the_precision_text_when_it_drops_little():
    noisy = f"{STORY}\n{CHROME}"
    others = {PRECISION: STORY}
    assert combine(Ensemble("length", threshold=0.5), noisy, others) == STORY
    assert combine(Ensemble("length", threshold=0.9), noisy, others) == noisy


def test_the_references_find_the_story_and_not_the_chrome():
    texts = reference_texts(lxml_html.document_fromstring(PAGE), "https://example.com/a")
    for name in ("justext", "readability"):
        assert "seven to two" in texts[name], name
        assert "Home" not in texts[name].split(), name
        assert "rights reserved" not in texts[name], name


def test_every_ensemble_is_distinct_and_counts_its_extractors():
    family = ensembles()
    assert len(set(family)) == len(family)
    assert Ensemble("pick", ("justext", "readability")).extractors == 3
    assert Ensemble("vote", ("justext", "readability")).extractors == 2
    assert Ensemble("length", threshold=0.9).extractors == 1
