"""Article extraction: body F1 on the article-extraction-benchmark, speed and metadata coverage.

.venv/bin/python bench/extraction.py --data DIR [--limit N]

Compares the project's extractor (`extract_article`, what the crawler runs) with
plain `trafilatura.extract` defaults, in one process on one core, scored as the
dataset's authors score (see extraction_score.py). pages/s is pages per CPU
second of this process (time.process_time) over the extraction calls only, after
one untimed warm-up page each (imports, model loading): on a shared machine wall
time measures the neighbours too.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import trafilatura
from _report import report
from extraction_score import score
from newsagg.crawler.extraction import ExtractionError, extract_article

META = ("title", "date", "authors", "language")


def load_pages(data: Path, limit: int | None) -> list[tuple[str, bytes, str]]:
    """(url, page bytes, expected body) for each page of the split, in id order."""
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    pages = [
        (
            entry["url"],
            gzip.decompress((data / "html" / f"{key}.html.gz").read_bytes()),
            entry["articleBody"],
        )
        for key, entry in sorted(truth.items())
    ]
    return pages[:limit] if limit else pages


def ours(url: str, page: bytes) -> tuple[str, dict[str, bool]]:
    try:
        article = extract_article(
            page, url=url, source=urlsplit(url).hostname or "unknown", crawled_at=datetime.now(UTC)
        )
    except ExtractionError:
        return "", dict.fromkeys(META, False)
    return article.text, {
        "title": bool(article.title),
        "date": article.published_at is not None,
        "authors": bool(article.authors),
        "language": article.language is not None,
    }


def plain_trafilatura(url: str, page: bytes) -> tuple[str, dict[str, bool]]:
    return trafilatura.extract(page.decode("utf-8"), url=url) or "", {}


def plain_metadata(url: str, page: bytes) -> dict[str, bool]:
    """What trafilatura's own metadata finds (not timed: `extract` defaults skip it)."""
    doc = trafilatura.bare_extraction(page.decode("utf-8"), url=url, with_metadata=True)
    if doc is None:
        return dict.fromkeys(META, False)
    return {
        "title": bool(doc.title),
        "date": bool(doc.date),
        "authors": bool(doc.author),
        "language": bool(doc.language),
    }


def measure(
    name: str,
    extractor: Callable[[str, bytes], tuple[str, dict[str, bool]]],
    pages: list[tuple[str, bytes, str]],
    metadata: Callable[[str, bytes], dict[str, bool]] | None = None,
) -> dict[str, Any]:
    extractor(pages[0][0], pages[0][1])  # warm-up, untimed
    texts, found, seconds = [], [], 0.0
    for url, page, _ in pages:
        started = time.process_time()
        text, meta = extractor(url, page)
        seconds += time.process_time() - started
        texts.append(text)
        found.append(metadata(url, page) if metadata else meta)
    result = score((text, expected) for text, (_, _, expected) in zip(texts, pages, strict=True))
    return {
        "extractor": name,
        "F1": result.f1,
        "precision": result.precision,
        "recall": result.recall,
        "pages/s": len(pages) / seconds,
        **{f"{key} %": 100 * sum(f[key] for f in found) / len(found) for key in META},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        required=True,
        help="a copy of github.com/scrapinghub/article-extraction-benchmark"
        " (its ground-truth.json and html/)",
    )
    parser.add_argument("--limit", type=int, help="only the first N pages")
    args = parser.parse_args()
    pages = load_pages(args.data, args.limit)
    rows = [
        measure("newsagg extract_article", ours, pages),
        measure("trafilatura.extract defaults", plain_trafilatura, pages, plain_metadata),
    ]
    report("extraction", rows, {"pages": len(pages), "data": args.data.name})


if __name__ == "__main__":
    main()
