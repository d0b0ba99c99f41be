"""The article-extraction-benchmark's own scoring, so our numbers compare with published ones.

Tokens are Unicode `\\w+` runs (case kept); each text is a multiset of 4-token
shingles; per page TP/FP/FN are divided by their sum so every page weighs the
same; precision and recall are means over pages; F1 is their harmonic mean.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

_TOKEN = re.compile(r"\w+")
SHINGLE = 4


def shingles(text: str, size: int = SHINGLE) -> Counter[tuple[str, ...]]:
    """Multiset of consecutive `size`-token runs; a text shorter than that has none."""
    tokens = _TOKEN.findall(text)
    return Counter(tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1))


@dataclass(frozen=True)
class PageScore:
    """One page's TP/FP/FN, normalised so that they sum to 1 (all 0 when both are empty)."""

    tp: float
    fp: float
    fn: float


def score_page(predicted: str, expected: str) -> PageScore:
    got, want = shingles(predicted), shingles(expected)
    tp = sum((got & want).values())
    fp = sum((got - want).values())
    fn = sum((want - got).values())
    total = tp + fp + fn
    if total == 0:
        return PageScore(0.0, 0.0, 0.0)
    return PageScore(tp / total, fp / total, fn / total)


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    f1: float


def _mean_ratio(pages: list[PageScore], wrong: str) -> float:
    """Mean of TP/(TP+wrong); a page with FP=FN=0 scores 1, one with TP+wrong=0 is skipped."""
    values = []
    for page in pages:
        if page.fp == 0 and page.fn == 0:
            values.append(1.0)
            continue
        denominator = page.tp + getattr(page, wrong)
        if denominator > 0:
            values.append(page.tp / denominator)
    return sum(values) / len(values) if values else 0.0


def score(pairs: Iterable[tuple[str, str]]) -> Score:
    """Score (predicted, expected) text pairs as the dataset's authors do."""
    return aggregate([score_page(predicted, expected) for predicted, expected in pairs])


def aggregate(pages: list[PageScore]) -> Score:
    """Precision, recall and F1 over already scored pages (any subset: a fold, say)."""
    precision, recall = _mean_ratio(pages, "fp"), _mean_ratio(pages, "fn")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(precision, recall, f1)
