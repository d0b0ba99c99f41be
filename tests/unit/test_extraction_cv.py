"""The cross-validation by site behind bench/extraction.py --cv: folds and the nested choice."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

from bench.extraction_cv import choose, folds_by_site, nested_cv, site_of, spread

DATA = Path(__file__).parents[2] / "bench" / "data" / "article-extraction-benchmark"


def benchmark_urls() -> list[str]:
    truth = json.loads((DATA / "ground-truth.json").read_text(encoding="utf-8"))
    return [entry["url"] for _, entry in sorted(truth.items())]


def test_a_site_is_its_registrable_domain():
    assert site_of("https://www.bbc.co.uk/news/world-1") == "bbc.co.uk"
    assert site_of("https://news.bbc.co.uk/2/hi/uk_news/7.stm") == "bbc.co.uk"
    assert site_of("http://jaraguadosul.com.br/news/a") == "jaraguadosul.com.br"
    assert site_of("https://www.nytimes.com/2019/11/19/a.html") == "nytimes.com"


def test_sites_never_straddle_folds_and_every_page_is_held_out_once():
    urls = [
        *benchmark_urls(),
        "https://edition.cnn.com/a",
        "https://www.cnn.com/b",
        "https://money.cnn.com/c",
    ]
    folds = folds_by_site(urls, 5)
    assert len(folds) == 5
    assert sorted(i for fold in folds for i in fold) == list(range(len(urls)))
    sites = [{site_of(urls[i]) for i in fold} for fold in folds]
    for first, second in combinations(sites, 2):
        assert not first & second
    assert sum("cnn.com" in fold_sites for fold_sites in sites) == 1
    sizes = [len(fold) for fold in folds]
    assert max(sizes) - min(sizes) <= 3  # the largest site has 3 pages
    assert folds_by_site(urls, 5) == folds  # the same URLs, the same folds


def test_fewer_sites_than_folds_gives_one_fold_per_site():
    folds = folds_by_site(
        ["https://a.example.com/1", "https://a.example.com/2", "https://b.org/"], 5
    )
    assert folds == [[0, 1], [2]]


def test_nested_cv_chooses_on_the_other_folds_and_scores_the_held_out_one():
    """Candidate "fit" is perfect on pages 0-3 and useless on 4-5: chosen when they are
    held out (the inner folds agree), never when they are trained on (the inner folds
    disagree); ties go to the simpler candidate."""
    per_page = {"fit": [1.0, 1.0, 1.0, 1.0, 0.0, 0.0], "plain": [0.8] * 6, "twin": [0.8] * 6}

    def f1(candidate: str, pages: list[int]) -> float:
        return sum(per_page[candidate][i] for i in pages) / len(pages)

    folds = [[0, 1], [2, 3], [4, 5]]
    complexity = {"fit": (2,), "plain": (0,), "twin": (1,)}
    results = nested_cv(list(per_page), f1, folds, lambda c: complexity[c])
    assert [r.chosen for r in results] == ["plain", "plain", "fit"]
    assert [r.held_out_f1 for r in results] == [0.8, 0.8, 0.0]
    assert results[2].train_f1 == 1.0
    mean, sd = spread([r.held_out_f1 for r in results])
    assert round(mean, 4) == 0.5333
    assert sd > 0


def test_a_gain_within_one_standard_error_does_not_buy_a_rule():
    """ "rule" is 0.005 better on average but scatters by more than that between folds."""
    per_page = {
        "no rule": [0.90, 0.92, 0.88, 0.90],
        "rule": [0.91, 0.93, 0.87, 0.91],
        "big rule": [0.97, 0.98, 0.96, 0.97],
    }

    def f1(candidate: str, pages: list[int]) -> float:
        return sum(per_page[candidate][i] for i in pages) / len(pages)

    folds = [[0], [1], [2], [3]]
    complexity = {"no rule": (0,), "rule": (1,), "big rule": (2,)}
    assert choose(["no rule", "rule"], f1, folds, complexity.get) == "no rule"
    assert choose(["no rule", "rule"], f1, [[0, 1, 2, 3]], complexity.get) == "rule"
    assert choose(list(per_page), f1, folds, complexity.get) == "big rule"
