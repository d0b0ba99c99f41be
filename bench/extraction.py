"""Article extraction: body F1, pages per CPU-second next to trafilatura, cross-validated F1.

.venv/bin/python bench/extraction.py [--quick] [--no-cv] [--data DIR] [--folds 5]

Speed: newsagg's `extract_article` (what the crawler runs: text, dates, authors,
language, tags) against plain `trafilatura.extract` (text only) on the same pages,
in one process, interleaved page by page so that a busy neighbour slows both
alike; pages per CPU-second of this process (time.process_time) over the calls
only, after one untimed warm-up page each (imports, language model). Scored as
the dataset's authors score (extraction_score.py).

--cv (on by default in the full run): nested 5-fold cross-validation by site
(extraction_cv.py) of every combination of trafilatura's focus and mode and our
clean-up rules (`Choices`): per fold, the combination chosen by cross-validation
over the other folds (the simplest within one standard error of the best), scored
on the held-out sites; then the shipped choices and trafilatura per fold, and each
rule's held-out gain (on minus off, the rest as shipped). --quick: about 15 pages,
no cross-validation. The full run also writes a py-spy profile of newsagg alone.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import sys
import time
from collections.abc import Callable
from copy import deepcopy
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import trafilatura
from _measure import run_measured
from _report import profile_path, report, target
from corpus import DATA, Page, benchmark_pages
from extraction_cv import choose, folds_by_site, nested_cv, site_of, spread
from extraction_ensemble import (
    PRECISION,
    Ensemble,
    combine,
    ensembles,
    readability_text,
    reference_texts,
)
from extraction_score import PageScore, aggregate, score, score_page
from newsagg.crawler.extraction import (
    CHOICES,
    Choices,
    ExtractionError,
    _parse,
    body_text_of,
    cleaned_text,
    extract_article,
    finish_text,
    json_ld_article,
    main_content,
    page_meta,
    retried,
)

META = ("title", "date", "authors", "language")
QUICK_PAGES = 15
CRAWLED = datetime(2026, 11, 30, tzinfo=UTC)
"""A fixed crawl time: the benchmark's pages are older, and runs stay comparable."""
PEER = "trafilatura.extract defaults"
PEER_FAST = "trafilatura.extract(include_comments=False, fast=True)"
PICKED = "newsagg, pick by readability (not shipped)"
PICK = Ensemble("pick", ("readability",))
CLEANING = ("trailing_chrome", "head_chrome")
"""The rules that change trafilatura's body (the text is cleaned once per combination)."""
RULES = (*CLEANING, "precise_blob")
PRECISE_BELOW = (0, 1000, 1500, 2000, 3000)
"""`Choices.precise_below`'s candidates: off, then characters under which a text is done
again with the precision focus (120 of the benchmark's 121 bodies are over 500)."""
FOCUS = ("recall", "precision", "balanced")
"""trafilatura's focus, cheapest first: "balanced" adds link-density pruning and, on a
short extraction, a retry in recall whose test converts the whole page to text."""
NOISE = 0.002
"""A held-out fold's F1 moving less than this is noise: one of ~24 pages moving by 0.05."""


source_of = functools.cache(site_of)
"""The page's source name. The crawler has it from its sources file; the bench's stand-in
(the registered domain, by courlan: 0.4 ms a page) is looked up before the timed calls
(`measure`), so that newsagg's figure is the extraction's alone."""


def ours(page: Page) -> tuple[str, dict[str, bool]]:
    try:
        article = extract_article(
            page.html, url=page.url, source=source_of(page.url), crawled_at=CRAWLED
        )
    except ExtractionError:
        return "", dict.fromkeys(META, False)
    return article.text, {
        "title": bool(article.title),
        "date": article.published_at is not None,
        "authors": bool(article.authors),
        "language": article.language is not None,
    }


def ours_picked(page: Page) -> tuple[str, dict[str, bool]]:
    """The choice with ensembles on all pages: ours, or trafilatura's precision focus
    (same mode and rules) when it agrees better with readability, which runs only when
    the two differ. Its cost is an upper bound: the page is parsed and its metadata read
    a second time, which the crawler would not do."""
    text, found = ours(page)
    if not text:
        return text, found
    tree = _parse(page.html, None)
    stated = json_ld_article(tree)
    meta = page_meta(tree, page.url, source_of(page.url), stated)
    precise = replace(CHOICES, focus="precision")
    other = body_text_of(
        main_content(tree, precise),
        tree,
        meta.titles,
        stated,
        precise,
        slow_content=lambda: main_content(tree, replace(precise, fast=False)),
    )
    if other == text:
        return text, found
    return combine(PICK, text, {PRECISION: other, "readability": readability_text(tree)}), found


def plain_trafilatura(page: Page) -> tuple[str, dict[str, bool]]:
    return trafilatura.extract(page.html.decode("utf-8"), url=page.url) or "", {}


def fast_trafilatura(page: Page) -> tuple[str, dict[str, bool]]:
    text = trafilatura.extract(
        page.html.decode("utf-8"), url=page.url, include_comments=False, fast=True
    )
    return text or "", {}


def trafilatura_metadata(page: Page) -> dict[str, bool]:
    """What trafilatura's own metadata finds (not timed: `extract` defaults skip it)."""
    doc = trafilatura.bare_extraction(page.html.decode("utf-8"), url=page.url, with_metadata=True)
    if doc is None:
        return dict.fromkeys(META, False)
    return {
        "title": bool(doc.title),
        "date": bool(doc.date),
        "authors": bool(doc.author),
        "language": bool(doc.language),
    }


Extractor = Callable[[Page], tuple[str, dict[str, bool]]]


def measure(extractors: dict[str, Extractor], pages: list[Page]) -> dict[str, dict[str, Any]]:
    """Texts, metadata found and CPU seconds per extractor, interleaved page by page."""
    for page in pages:
        source_of(page.url)
    for extractor in extractors.values():
        extractor(pages[0])  # warm-up, untimed
    runs: dict[str, dict[str, Any]] = {
        name: {"texts": [], "found": [], "cpu_s": 0.0} for name in extractors
    }
    for page in pages:
        for name, extractor in extractors.items():
            started = time.process_time()
            text, found = extractor(page)
            runs[name]["cpu_s"] += time.process_time() - started
            runs[name]["texts"].append(text)
            runs[name]["found"].append(found)
    return runs


def row(name: str, run: dict[str, Any], pages: list[Page]) -> dict[str, Any]:
    found = run["found"] if run["found"][0] else [trafilatura_metadata(p) for p in pages]
    result = score((text, page.body) for text, page in zip(run["texts"], pages, strict=True))
    return {
        "extractor": name,
        "F1": result.f1,
        "precision": result.precision,
        "recall": result.recall,
        "pages/CPU-s": len(pages) / run["cpu_s"],
        **{f"{key} %": 100 * sum(f[key] for f in found) / len(found) for key in META},
    }


# -- cross-validation -------------------------------------------------------------------


Candidate = Choices | tuple[Choices, Ensemble]
"""Our extraction alone, or combined with other extractors' texts (extraction_ensemble)."""
ENSEMBLE_FOCUS = ("recall", "balanced")
"""The base focus of an ensemble: the precision focus is one of its voters."""


def all_choices() -> list[Choices]:
    """Every combination of trafilatura's focus and mode, the rules on or off and the
    length under which the precision focus is asked again."""
    return [
        Choices(
            focus=focus,  # type: ignore[arg-type]
            fast=fast,
            precise_below=below,
            **dict(zip(RULES, rules, strict=True)),
        )
        for focus in FOCUS
        for fast in (True, False)
        for rules in itertools.product((True, False), repeat=len(RULES))
        for below in PRECISE_BELOW
    ]


def candidates() -> list[Candidate]:
    """Every combination of our choices, and each ensemble on each of them whose focus
    leaves the precision focus to a voter and that asks it no second time itself."""
    plain = all_choices()
    combined = [
        (c, e)
        for c in plain
        if c.focus in ENSEMBLE_FOCUS and not (c.precise_blob or c.precise_below)
        for e in ensembles()
    ]
    return [*plain, *combined]


def simpler(candidate: Candidate) -> tuple[int, ...]:
    """Fewer of our rules first (what could fit the benchmark's sites), then fewer
    extractors run besides trafilatura (each costs CPU on every page), then the cheaper
    of trafilatura's own options (speed is a target of its own, issue 16): its fast
    mode, then the cheaper focus."""
    choices = base_of(candidate)
    extractors = 0 if isinstance(candidate, Choices) else candidate[1].extractors
    rules = sum(getattr(choices, rule) for rule in RULES) + bool(choices.precise_below)
    return (
        rules,
        extractors,
        not choices.fast,
        FOCUS.index(choices.focus),
        PRECISE_BELOW.index(choices.precise_below),
    )


def page_scores(pages: list[Page], options: list[Candidate]) -> dict[Candidate, list[PageScore]]:
    """Each candidate's score on each page."""
    scores: dict[Candidate, list[PageScore]] = {c: [] for c in options}
    for page in pages:
        for candidate, found in zip(options, _page_scores(page, options), strict=True):
            scores[candidate].append(found)
    return scores


def _page_scores(page: Page, options: list[Candidate]) -> list[PageScore]:
    """trafilatura once per (focus, fast), the text rules once per (content, rules), through
    the functions extract_article uses; jusText and readability once for the ensembles."""
    tree = _parse(page.html, None)
    stated = json_ld_article(tree)
    meta = page_meta(tree, page.url, site_of(page.url), stated)
    content = {
        (focus, fast): main_content(tree, Choices(focus=focus, fast=fast))  # type: ignore[arg-type]
        for focus, fast in itertools.product(FOCUS, (True, False))
    }
    cleaned: dict[tuple[Any, ...], str] = {}

    def text_of(choices: Choices, fast: bool) -> str:
        key = (choices.focus, fast, *(getattr(choices, r) for r in CLEANING))
        if key not in cleaned:
            body = deepcopy(content[choices.focus, fast])  # the rules change it
            cleaned[key] = cleaned_text(body, meta.titles, choices)
        return cleaned[key]

    def precise_of(choices: Choices) -> Callable[[], str]:
        """The precision focus's text as extract_article asks for it (same mode and rules)."""
        precise = replace(choices, focus="precision")
        if not choices.fast:
            return lambda: text_of(precise, False)
        return lambda: retried(text_of(precise, True), lambda: text_of(precise, False))

    finished: dict[Choices, str] = {}

    def finished_text(choices: Choices) -> str:
        if choices not in finished:
            finished[choices] = finish_text(
                text_of(choices, choices.fast),
                tree,
                meta.titles,
                stated,
                choices,
                slow_text=lambda: text_of(choices, False),
                precise_text=precise_of(choices),
            )
        return finished[choices]

    references = (
        reference_texts(tree, page.url) if any(isinstance(c, tuple) for c in options) else {}
    )
    seen: dict[str, PageScore] = {}
    found = []
    for candidate in options:
        if isinstance(candidate, Choices):
            text = finished_text(candidate)
        else:
            choices, ensemble = candidate
            precise = finished_text(replace(choices, focus="precision"))
            text = combine(ensemble, finished_text(choices), {PRECISION: precise, **references})
        if text not in seen:
            seen[text] = score_page(text, page.body)
        found.append(seen[text])
    return found


def f1_on(scores: dict[Any, list[PageScore]]) -> Callable[[Any, list[int]], float]:
    return lambda option, indices: aggregate([scores[option][i] for i in indices]).f1


def cross_validate(
    pages: list[Page], k: int, peers: dict[str, list[str]]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    folds = folds_by_site([p.url for p in pages], k)
    options = candidates()
    started = time.process_time()
    scores = page_scores(pages, options)
    for name, texts in peers.items():
        scores[name] = [score_page(t, p.body) for t, p in zip(texts, pages, strict=True)]
    f1 = f1_on(scores)
    nested = nested_cv(options, f1, folds, simpler)
    plain = [c for c in options if isinstance(c, Choices)]
    nested_plain = nested_cv(plain, f1, folds, simpler)
    on_all = choose(options, f1, folds, simpler)
    on_all_plain = choose(plain, f1, folds, simpler)
    rows: list[dict[str, Any]] = []

    def cv_row(name: str, per_fold: list[float], note: str = "") -> None:
        mean, sd = spread(per_fold)
        rows.append(
            {
                "configuration": name,
                "CV F1": mean,
                "± sd": sd,
                **{f"fold {i + 1}": v for i, v in enumerate(per_fold)},
                "note": note,
            }
        )

    cv_row(
        "newsagg, chosen per fold (nested)",
        [r.held_out_f1 for r in nested],
        "; ".join(describe(r.chosen) for r in nested),  # type: ignore[arg-type]
    )
    cv_row(
        "newsagg without ensembles, chosen per fold (nested)",
        [r.held_out_f1 for r in nested_plain],
        "; ".join(describe(r.chosen) for r in nested_plain),  # type: ignore[arg-type]
    )
    cv_row("chosen on all pages", [f1(on_all, fold) for fold in folds], describe(on_all))
    balanced = replace(CHOICES, focus="balanced")  # trafilatura's default: the best mean, dearer
    for name, choices in (("newsagg (as shipped)", CHOICES), ("newsagg, focus balanced", balanced)):
        cv_row(name, [f1(choices, fold) for fold in folds], describe(choices))
    for name in peers:
        cv_row(name, [f1(name, fold) for fold in folds])
    ablation = []
    flips = [
        (rule, getattr(CHOICES, rule), {rule: True}, {rule: False}) for rule in (*RULES, "fast")
    ]
    flips += [
        (
            f"precise_below={below}",
            CHOICES.precise_below == below,
            {"precise_below": below},
            {"precise_below": 0},
        )
        for below in PRECISE_BELOW[1:]
    ]
    for rule, shipped, on, off in flips:
        gains = [
            f1(replace(CHOICES, **on), fold) - f1(replace(CHOICES, **off), fold) for fold in folds
        ]
        chosen = sum(
            all(getattr(base_of(r.chosen), k) == v for k, v in on.items()) for r in nested_plain
        )
        ablation.append(
            {
                "rule": rule,
                "shipped": shipped,
                "held-out gain (on - off)": spread(gains)[0],
                "folds where on wins": sum(g > 0 for g in gains),
                "folds where off wins": sum(g < 0 for g in gains),
                "nested CV chose on": f"{chosen}/{len(folds)}",
            }
        )
    summary = {
        "folds": [len(f) for f in folds],
        "sites": len({site_of(p.url) for p in pages}),
        "candidates": len(options),
        "noise": NOISE,
        "chosen on all pages": describe(on_all),
        "chosen on all pages without ensembles": describe(on_all_plain),
        "shipped scores as the all-pages choice without ensembles": (
            scores[CHOICES] == scores[on_all_plain]
        ),
        "nested CV F1": spread([r.held_out_f1 for r in nested]),
        "nested CV F1 without ensembles": spread([r.held_out_f1 for r in nested_plain]),
        "shipped CV F1": spread([f1(CHOICES, fold) for fold in folds]),
        "per fold vs trafilatura fast": [f1(CHOICES, fold) - f1(PEER_FAST, fold) for fold in folds],
        "nested per fold vs trafilatura fast": [
            r.held_out_f1 - f1(PEER_FAST, fold) for r, fold in zip(nested, folds, strict=True)
        ],
        "nested per fold vs trafilatura fast without ensembles": [
            r.held_out_f1 - f1(PEER_FAST, fold) for r, fold in zip(nested_plain, folds, strict=True)
        ],
        "cpu_s": time.process_time() - started,
    }
    return rows, {"ablation": ablation, **summary}


def base_of(candidate: Candidate) -> Choices:
    """The choices of our own extraction in a candidate."""
    return candidate if isinstance(candidate, Choices) else candidate[0]


def describe(candidate: Candidate) -> str:
    """'recall, fast, -head_chrome': the focus, the mode and the rules left off; then the
    ensemble, if any."""
    choices = base_of(candidate)
    off = [f"-{rule}" for rule in CLEANING if not getattr(choices, rule)]
    precise = [f"precision under {choices.precise_below}"] if choices.precise_below else []
    blob = ["precision on a run-on block"] if choices.precise_blob else []
    ensemble = [] if isinstance(candidate, Choices) else [candidate[1].describe()]
    return ", ".join(
        [choices.focus, "fast" if choices.fast else "fallback", *off, *precise, *blob, *ensemble]
    )


# -- main -------------------------------------------------------------------------------


def profile(data: Path) -> None:
    """newsagg alone over every page, for py-spy (a child run: the profile is its own)."""
    for page in benchmark_pages(data):
        ours(page)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=DATA,
        help="a copy of github.com/scrapinghub/article-extraction-benchmark"
        " (its ground-truth.json and html/); default: the copy in bench/data",
    )
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_PAGES} pages, no CV")
    parser.add_argument("--no-cv", action="store_true", help="skip the cross-validation")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profile")
    parser.add_argument("--profile-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.profile_only:
        profile(args.data)
        return
    pages = benchmark_pages(args.data)
    if args.quick:
        pages = pages[:: len(pages) // QUICK_PAGES][:QUICK_PAGES]
    runs = measure(
        {
            "newsagg extract_article": ours,
            PEER: plain_trafilatura,
            PEER_FAST: fast_trafilatura,
            **({} if args.quick else {PICKED: ours_picked}),
        },
        pages,
    )
    rows = [row(name, run, pages) for name, run in runs.items()]
    ratio = rows[0]["pages/CPU-s"] / rows[1]["pages/CPU-s"]
    targets = [
        target(
            "extraction pages/CPU-s vs trafilatura",
            ratio,
            ">= 1.0",
            newsagg=f"{rows[0]['pages/CPU-s']:.1f} pages/CPU-s",
            peer=f"{rows[1]['pages/CPU-s']:.1f} pages/CPU-s (trafilatura.extract)",
        )
    ]
    params: dict[str, Any] = {"pages": len(pages), "data": args.data.name}
    if not (args.quick or args.no_cv):
        cv_rows, cv = cross_validate(
            pages,
            args.folds,
            {n: run["texts"] for n, run in runs.items() if n not in (rows[0]["extractor"], PICKED)},
        )
        report("extraction.cv", cv_rows, {"folds": cv["folds"], "sites": cv["sites"]})
        report("extraction.ablation", cv["ablation"], {"shipped": describe(CHOICES)})
        # The crawler ships no ensemble (their held-out gain is within the noise, for a
        # second trafilatura pass on every page): the targets are what it runs.
        nested, nested_sd = cv["nested CV F1 without ensembles"]
        ensembled, ensembled_sd = cv["nested CV F1"]
        shipped, sd = cv["shipped CV F1"]
        peer_fast = next(r for r in cv_rows if r["configuration"] == PEER_FAST)
        targets += [
            target(
                "CV F1 (rules chosen on the training folds)",
                nested,
                ">= 0.975",
                newsagg=f"{nested:.4f} ± {nested_sd:.4f} (shipped rules: {shipped:.4f} ± {sd:.4f};"
                f" with ensembles, not shipped: {ensembled:.4f} ± {ensembled_sd:.4f})",
                peer=f"{peer_fast['CV F1']:.4f} ± {peer_fast['± sd']:.4f} ({PEER_FAST})",
            ),
            target(
                "worst fold minus trafilatura(no comments, fast)",
                min(cv["nested per fold vs trafilatura fast without ensembles"]),
                f">= -{NOISE}",
                newsagg=f"nested; shipped rules: {min(cv['per fold vs trafilatura fast']):+.4f};"
                f" with ensembles: {min(cv['nested per fold vs trafilatura fast']):+.4f}",
            ),
        ]
        params.update(
            {
                "folds": cv["folds"],
                "nested CV F1": cv["nested CV F1"],
                "nested CV F1 without ensembles": cv["nested CV F1 without ensembles"],
                "noise": cv["noise"],
                "chosen on all pages": cv["chosen on all pages"],
                "chosen on all pages without ensembles": cv[
                    "chosen on all pages without ensembles"
                ],
                "shipped": describe(CHOICES),
                "shipped scores as the all-pages choice without ensembles": cv[
                    "shipped scores as the all-pages choice without ensembles"
                ],
                "cv_rows": cv_rows,
                "ablation": cv["ablation"],
                "cv_cpu_s": cv["cpu_s"],
            }
        )
    report("extraction", rows, params, targets)
    if not (args.quick or args.no_profile):
        command = [sys.executable, __file__, "--profile-only", "--data", str(args.data)]
        done = run_measured(command, profile=profile_path("extraction", "newsagg"))
        print(f"profile of newsagg alone: {done.profile}, {done.cpu_s:.1f} CPU-s")


if __name__ == "__main__":
    main()
