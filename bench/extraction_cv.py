"""Cross-validation by site for the extraction's options and rules (issue 17).

A rule tuned on the pages it is scored on looks better than it is on pages it has
not seen; pages of one site share a template, so a rule fitted to that template
would still look good on a random held-out page of the same site. Pages are
therefore grouped by site (the registrable domain of their URL) and every site
lands in exactly one fold. Each fold is held out in turn; the candidate is chosen
on the other folds by cross-validation over those same folds (the inner choice
sees sites as the outer one does) and scored on the held-out fold: the mean of
those held-out scores is what the choosing procedure is worth on unseen sites.

The inner choice takes the simplest candidate whose mean F1 over the inner folds
is within one standard error of the best's (the "one standard error" rule): with
~24 pages a fold, a smaller gain is within the scatter between sites and no
reason for a rule.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from math import sqrt
from statistics import mean, pstdev, stdev
from typing import TypeVar
from urllib.parse import urlsplit

from courlan import extract_domain

C = TypeVar("C", bound=Hashable)


def site_of(url: str) -> str:
    """The registrable domain ("bbc.co.uk" for www.bbc.co.uk/news/...), else the host."""
    host = (urlsplit(url).hostname or "").lower()
    return extract_domain(url) or host.removeprefix("www.")


def folds_by_site(urls: Sequence[str], k: int) -> list[list[int]]:
    """Page indices per fold: whole sites, largest first, each into the fold with the
    fewest pages so far (ties: the lower fold), so folds are as even as sites allow
    and the same URLs always give the same folds."""
    sites: dict[str, list[int]] = defaultdict(list)
    for index, url in enumerate(urls):
        sites[site_of(url)].append(index)
    folds: list[list[int]] = [[] for _ in range(min(k, len(sites)))]
    for _, members in sorted(sites.items(), key=lambda item: (-len(item[1]), item[0])):
        min(folds, key=len).extend(members)
    return [sorted(fold) for fold in folds]


@dataclass(frozen=True)
class FoldResult:
    chosen: Hashable
    train_f1: float
    """The chosen candidate's mean F1 over the inner folds."""
    held_out_f1: float


def choose(
    candidates: Sequence[C],
    f1: Callable[[C, list[int]], float],
    folds: list[list[int]],
    simpler: Callable[[C], tuple[int, ...]],
) -> C:
    """The simplest candidate (smallest `simpler` key; ties: the higher mean) whose mean
    F1 over `folds` is at least the best mean less one standard error of the best's
    per-fold F1 (none with a single fold)."""
    per_fold = [[f1(c, fold) for fold in folds] for c in candidates]
    means = [mean(scores) for scores in per_fold]
    best = max(range(len(candidates)), key=means.__getitem__)
    error = stdev(per_fold[best]) / sqrt(len(folds)) if len(folds) > 1 else 0.0
    close = [
        (simpler(c), -means[i], i)
        for i, c in enumerate(candidates)
        if means[i] >= means[best] - error
    ]
    return candidates[min(close)[2]]


def nested_cv(
    candidates: Sequence[C],
    f1: Callable[[C, list[int]], float],
    folds: list[list[int]],
    simpler: Callable[[C], tuple[int, ...]],
) -> list[FoldResult]:
    """Per fold: the candidate `choose` picks by cross-validation over the other folds,
    its mean F1 over them, and its F1 on the held-out fold."""
    results = []
    for held_out in folds:
        inner = [fold for fold in folds if fold is not held_out]
        best = choose(candidates, f1, inner, simpler)
        train_f1 = mean(f1(best, fold) for fold in inner)
        results.append(FoldResult(best, train_f1, f1(best, held_out)))
    return results


def spread(values: Sequence[float]) -> tuple[float, float]:
    """Mean and (population) standard deviation."""
    return mean(values), pstdev(values)
