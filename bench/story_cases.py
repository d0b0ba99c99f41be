"""The hard cases of same-story clusters (bench/data/stories_hard, its README says how they
were written and split), read as Articles with their labels for bench/stories.py.

Apart from bench/stories.py (which imports the crawler and the benchmarks' harness) so
that tests/unit/test_bench_story_cases.py can check the set's files without them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from newsagg.core.article import Article, DateSource

CRAWL_DELAY = timedelta(minutes=5)
HARD_CASES = Path(__file__).parent / "data" / "stories_hard"
"""The second labelled set (its README says how it was written): `design` may be used to
choose a method, `held` is scored only with the method and thresholds chosen without it."""


@dataclass(frozen=True)
class Labelled:
    """One labelled article (a demo page as the crawler extracts it, or a hard case) with
    its hand labels."""

    article: Article
    duplicate: str | None
    story: str
    people: frozenset[str]


def hard_cases(part: str) -> list[Labelled]:
    """One part of the hard cases, each article crawled CRAWL_DELAY after publication, in
    crawl order (the people are not labelled there)."""
    found = []
    for path in sorted((HARD_CASES / part).glob("*.txt")):
        for number, chunk in enumerate(path.read_text("utf-8").split("\n=== ")[1:]):
            header, _, rest = chunk.partition("\n")
            fields = dict(field.split(": ", 1) for field in header.split(" | "))
            title, _, body = rest.partition("\n\n")
            published = datetime.fromisoformat(fields["published"])
            article = Article.create(
                url=f"https://{fields['source']}.test/{path.stem}/{number}",
                source=fields["source"],
                title=title.removeprefix("title: "),
                text=body.strip(),
                crawled_at=published + CRAWL_DELAY,
                published_at=published,
                date_source=DateSource.JSON_LD,
            )
            found.append(Labelled(article, fields.get("copy"), fields["story"], frozenset()))
    return sorted(found, key=lambda item: (item.article.crawled_at, item.article.id))


def arrival_orders(items: Sequence[Labelled]) -> dict[str, list[Labelled]]:
    """Orders the articles of several outlets may reach the indexer in: by publication,
    and outlet by outlet (one outlet's feed read before the next), both ways round."""
    return {
        "publication": list(items),
        "outlet by outlet": sorted(items, key=lambda item: item.article.source),
        "outlet by outlet, reversed": sorted(
            items, key=lambda item: item.article.source, reverse=True
        ),
    }
