"""The benchmark's scoring on hand-made pages, including its two edge rules."""

from __future__ import annotations

import pytest

from bench.extraction_score import score, score_page, shingles


def test_shingles_are_4_token_multisets_of_unicode_words_with_case_kept():
    assert shingles("one two three four one two three four") == {
        ("one", "two", "three", "four"): 2,
        ("two", "three", "four", "one"): 1,
        ("three", "four", "one", "two"): 1,
        ("four", "one", "two", "three"): 1,
    }
    assert ("Über", "die", "Brücke", "gehen") in shingles("Über die Brücke gehen.")
    assert ("über", "die", "Brücke", "gehen") not in shingles("Über die Brücke gehen.")
    assert shingles("only three words") == {}


def test_separators_do_not_change_shingles():
    assert shingles("a b c d\n\ne f") == shingles("a b, c d. e f")


def test_page_counts_are_normalised_to_sum_to_one():
    page = score_page("a b c d e f", "a b c d e f g h")  # 3 shared, 0 extra, 2 missed
    assert (page.tp, page.fp, page.fn) == pytest.approx((3 / 5, 0, 2 / 5))


def test_precision_recall_and_f1_are_means_over_pages():
    result = score(
        [
            ("a b c d e f", "a b c d e f g h"),  # P 1, R 3/5
            ("x y z w a b c d", "a b c d"),  # P 1/5, R 1
        ]
    )
    assert result.precision == pytest.approx((1 + 1 / 5) / 2)
    assert result.recall == pytest.approx((3 / 5 + 1) / 2)
    expected_f1 = 2 * result.precision * result.recall / (result.precision + result.recall)
    assert result.f1 == pytest.approx(expected_f1)


def test_a_page_with_nothing_extra_and_nothing_missed_scores_one():
    """Both texts too short for a shingle: FP = FN = 0, so the page counts as perfect."""
    result = score([("too short", "too short"), ("a b c d", "a b c d e")])
    assert result.precision == pytest.approx(1.0)
    assert result.recall == pytest.approx((1 + 1 / 2) / 2)


def test_a_page_with_no_prediction_is_skipped_for_precision_only():
    result = score([("", "a b c d e"), ("a b c d", "a b c d")])
    assert result.precision == pytest.approx(1.0)  # TP + FP = 0: skipped
    assert result.recall == pytest.approx(0.5)  # the empty page recalls nothing


def test_nothing_to_score_is_zero():
    assert score([]).f1 == 0.0
