"""Publication-date accuracy on the benchmark's pages, with the provenance mix, next to htmldate.

.venv/bin/python bench/dates.py [--quick] [--data DIR]

Ground truth: bench/data/article-extraction-benchmark/dates.json, the day each page shows
its reader (labelled by hand from the page's visible text, with that text as evidence;
pages that show no publication date are listed there as skipped and not scored). Scored:
newsagg's `extract_article` (what the crawler runs, the crawl time fixed after the pages)
and plain `htmldate.find_date` on the same page and URL, with its defaults and with
original_date=True (the publication rather than the last update, as newsagg asks it).

Per extractor: coverage (a date given), accuracy on the same UTC day as the label and
within one day of it (a page's day in its own zone can be the day before or after in UTC),
and wrong dates (more than a day off). For newsagg, the provenance mix: each date_source's
share of the scored pages and its own accuracy; and the pages the quality flag marks low.
--quick: every tenth labelled page.
"""

from __future__ import annotations

import argparse
import json
import warnings
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from _report import report
from corpus import DATA, Page, benchmark_pages
from extraction_cv import site_of
from htmldate import find_date
from newsagg.crawler.extraction import ExtractionError, extract_article

CRAWLED = datetime(2026, 11, 30, tzinfo=UTC)
"""A fixed crawl time after every page: runs stay comparable."""
QUICK_EVERY = 10
NONE = "none"


def labels(data: Path) -> tuple[dict[str, date], int]:
    """The labelled days by page id, and how many pages were skipped (no visible date)."""
    truth = json.loads((data / "dates.json").read_text(encoding="utf-8"))
    days = {key: date.fromisoformat(entry["date"]) for key, entry in truth["labelled"].items()}
    return days, len(truth["skipped"])


def newsagg(page: Page) -> tuple[date | None, str, str]:
    """(day, date_source, quality) of what the crawler would store."""
    try:
        article = extract_article(
            page.html, url=page.url, source=site_of(page.url), crawled_at=CRAWLED
        )
    except ExtractionError:
        return None, NONE, "no article"
    day = article.published_at.date() if article.published_at else None
    return day, str(article.date_source or NONE), str(article.quality)


def htmldate(original: bool) -> Callable[[Page], date | None]:
    def find(page: Page) -> date | None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = find_date(page.html, url=page.url, original_date=original)
        return date.fromisoformat(found) if found else None

    return find


def score(name: str, found: dict[str, date | None], truth: dict[str, date]) -> dict[str, Any]:
    dated = [key for key in truth if found[key] is not None]
    off = {key: abs((found[key] - truth[key]).days) for key in dated}  # type: ignore[operator]
    pages = len(truth)
    return {
        "extractor": name,
        "pages": pages,
        "dated": len(dated),
        "coverage": round(len(dated) / pages, 4),
        "same day": sum(1 for d in off.values() if d == 0),
        "accuracy (same day)": round(sum(1 for d in off.values() if d == 0) / pages, 4),
        "within 1 day": sum(1 for d in off.values() if d <= 1),
        "accuracy (±1 day)": round(sum(1 for d in off.values() if d <= 1) / pages, 4),
        "wrong (>1 day off)": sum(1 for d in off.values() if d > 1),
    }


def provenance(
    found: dict[str, date | None], sources: dict[str, str], truth: dict[str, date]
) -> list[dict[str, Any]]:
    """Each date_source's share of the scored pages, and how often its day is right."""
    rows = []
    for source, count in Counter(sources[key] for key in truth).most_common():
        keys = [key for key in truth if sources[key] == source]
        right = [k for k in keys if found[k] is not None and found[k] == truth[k]]
        near = [k for k in keys if found[k] is not None and abs((found[k] - truth[k]).days) <= 1]  # type: ignore[operator]
        rows.append(
            {
                "date_source": source,
                "pages": count,
                "share": round(count / len(truth), 4),
                "same day": len(right),
                "within 1 day": len(near),
                "wrong (>1 day off)": len(keys) - len(near) if source != NONE else 0,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--quick", action="store_true", help="every tenth labelled page")
    args = parser.parse_args()
    truth, skipped = labels(args.data)
    pages = benchmark_pages(args.data)
    if args.quick:
        keep = set(sorted(truth)[::QUICK_EVERY])
        truth = {key: day for key, day in truth.items() if key in keep}
        pages = [page for page in pages if page.key in keep]
    ours = {page.key: newsagg(page) for page in pages}
    found = {key: day for key, (day, _, _) in ours.items()}
    sources = {key: source for key, (_, source, _) in ours.items()}
    low = sorted(key for key, (_, _, quality) in ours.items() if quality == "low")
    scored = {key: truth[key] for key in truth if key in found}
    rows = [
        score("newsagg extract_article", found, scored),
        score(
            "htmldate.find_date defaults",
            {page.key: htmldate(False)(page) for page in pages if page.key in scored},
            scored,
        ),
        score(
            "htmldate.find_date(original_date=True)",
            {page.key: htmldate(True)(page) for page in pages if page.key in scored},
            scored,
        ),
    ]
    unlabelled = [key for key in found if key not in truth]
    params = {
        "pages scored": len(scored),
        "pages skipped (no visible date)": skipped,
        "crawled_at": CRAWLED.isoformat(),
        "unlabelled pages newsagg dated": sum(1 for key in unlabelled if found[key]),
        "unlabelled pages": len(unlabelled),
        "quality low": low,
        "quality low of pages": len(pages),
        "wrong days (newsagg)": {
            key: {"found": str(found[key]), "label": str(scored[key]), "source": sources[key]}
            for key in scored
            if found[key] is not None and abs((found[key] - scored[key]).days) > 1  # type: ignore[operator]
        },
    }
    report("dates.provenance", provenance(found, sources, scored), {"pages": len(scored)})
    best_htmldate = max(rows[1:], key=lambda row: row["accuracy (±1 day)"])
    targets = [
        {
            "target": "date accuracy within 1 day (same UTC day)",
            "value": rows[0]["accuracy (±1 day)"],
            "goal": "",
            "met": None,
            "newsagg": f"{rows[0]['accuracy (±1 day)']:.3f} ({rows[0]['accuracy (same day)']:.3f})",
            "peer": f"{best_htmldate['accuracy (±1 day)']:.3f} "
            f"({best_htmldate['accuracy (same day)']:.3f}) {best_htmldate['extractor']}",
        },
        {
            "target": "wrong publication dates (>1 day off)",
            "value": rows[0]["wrong (>1 day off)"],
            "goal": "",
            "met": None,
            "newsagg": rows[0]["wrong (>1 day off)"],
            "peer": f"{best_htmldate['wrong (>1 day off)']} {best_htmldate['extractor']}",
        },
    ]
    report("dates", rows, params, targets)


if __name__ == "__main__":
    main()
