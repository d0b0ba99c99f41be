"""Every field of the article newsagg extracts from each benchmark page, as JSON lines.

.venv/bin/python bench/extraction_snapshot.py OUT.jsonl [--data DIR]

For speed work that must not change what is extracted: write a snapshot before the
change and one after, then `cmp` the two. Each page is extracted twice, as the crawler
sees it: with no listing date, and listed in a feed with a date (which decides whether
the page's own dates are searched for). The crawl time is fixed so that runs compare.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from corpus import DATA, benchmark_pages
from extraction_cv import site_of
from newsagg.crawler.extraction import ExtractionError, extract_article

CRAWLED = datetime(2026, 11, 30, tzinfo=UTC)
LISTED = CRAWLED - timedelta(hours=3)


def snapshot(data: Path) -> list[str]:
    """One JSON line per page and listing date: the article's fields, or the error."""
    lines = []
    for page in benchmark_pages(data):
        for listed in (None, LISTED):
            try:
                article = extract_article(
                    page.html,
                    url=page.url,
                    source=site_of(page.url),
                    crawled_at=CRAWLED,
                    feed_published_at=listed,
                    content_type="text/html",
                )
                fields = article.model_dump(mode="json")
            except ExtractionError as error:
                fields = {"error": str(error)}
            lines.append(json.dumps({"url": page.url, "listed": bool(listed), **fields}))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    lines = snapshot(args.data)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} extractions written to {args.out}")


if __name__ == "__main__":
    main()
