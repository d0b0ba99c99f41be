"""Cross-validation by site for the extraction's options and rules (issue 17).

A rule tuned on the pages it is scored on looks better than it is on pages it has
not seen; pages of one site share a template, so a rule fitted to that template
would still look good on a random held-out page of the same site. Pages are
therefore grouped by site (the registrable domain of their URL) and every site
lands in exactly one fold. In each fold the candidate with the best F1 on the
other folds is chosen, then scored on the held-out fold: the mean of those
held-out scores is what the choosing procedure is worth on unseen sites.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from statistics import mean, pstdev
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
    held_out_f1: float


def choose(
    candidates: Sequence[C],
    f1: Callable[[C, list[int]], float],
    pages: list[int],
    simpler: Callable[[C], tuple[int, ...]],
    tolerance: float = 0.0,
) -> C:
    """The simplest candidate (smallest `simpler` key) whose F1 on `pages` is within
    `tolerance` of the best: a gain smaller than that is noise, not a reason for a rule."""
    scored = [(f1(c, pages), c) for c in candidates]
    best = max(score for score, _ in scored)
    close = [
        (simpler(c), -score, i) for i, (score, c) in enumerate(scored) if score >= best - tolerance
    ]
    return scored[min(close)[2]][1]


def nested_cv(
    candidates: Sequence[C],
    f1: Callable[[C, list[int]], float],
    folds: list[list[int]],
    simpler: Callable[[C], tuple[int, ...]],
    tolerance: float = 0.0,
) -> list[FoldResult]:
    """Per fold: the candidate `choose` picks on the other folds, and its F1 on the
    held-out fold."""
    results = []
    for held_out in folds:
        train = [i for fold in folds if fold is not held_out for i in fold]
        best = choose(candidates, f1, train, simpler, tolerance)
        results.append(FoldResult(best, f1(best, train), f1(best, held_out)))
    return results


def spread(values: Sequence[float]) -> tuple[float, float]:
    """Mean and (population) standard deviation."""
    return mean(values), pstdev(values)
