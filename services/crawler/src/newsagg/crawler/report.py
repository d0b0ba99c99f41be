"""What a pass did, counted once per outcome: Prometheus, Scrapy's stats and a summary.

Every outcome of a fetch, a listing or an article goes through PassReport, so the three
views agree: the Prometheus metrics operators graph (newsagg.crawler.metrics), the Scrapy
stats a pass dumps (DEBUG), and the one INFO line per source per pass that a person reads
("marquee-daily: 36 listed, 2 new, 34 unchanged, 0 failed"). It also knows which sources
could not be read at all, so `crawl --once` can fail loudly for them, and what the crawl
state keeps per source (last success, errors of the last pass) for `newsagg status`.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from newsagg.crawler.failures import fetch_outcome
from newsagg.crawler.metrics import (
    ARTICLES_EXTRACTED,
    ARTICLES_LOW_QUALITY,
    EXTRACTION_FAILURES,
    EXTRACTION_RETRIES,
    FETCH_SECONDS,
    FETCHES,
    LAST_SUCCESS,
    LISTINGS,
)
from scrapy.crawler import Crawler

LISTING_ANSWERED = frozenset({"ok", "not_modified"})
"""Listing outcomes that mean the source answered; any other is a failed listing."""
LISTING_SKIPPED = frozenset({"too_old"})
"""Not read on purpose (a sitemap-index child before the age window): neither."""
ARTICLE_UNCHANGED = frozenset({"unchanged"})
ARTICLE_NOT_FAILED = frozenset({"ok", "too_old", "not_article", "published"})
LISTING_OUTCOMES = frozenset({"ok", "not_modified", "malformed", "no_feed_announced"})
"""Listing statuses that are their own metric outcome; a failed fetch's reason is mapped
to the fetch outcome (failures.fetch_outcome)."""
EXTRACTION_REASONS = {"no_article": "not_article"}
"""Extract-stage statuses -> the extraction failure reason label, where they differ."""


@dataclass
class SourceTally:
    listed: int = 0
    new: int = 0
    unchanged: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    listings_answered: int = 0
    listings_failed: dict[str, str] = field(default_factory=dict)
    """Listing URL -> why it failed (the last reason)."""
    last_success: float | None = None
    """Unix time a listing of the source last answered (ok or 304) in this pass."""

    def summary(self, source: str) -> str:
        reasons = ", ".join(f"{why} {n}" for why, n in self.failed.most_common())
        listings = (
            f"; {len(self.listings_failed)} of "
            f"{len(self.listings_failed) + self.listings_answered} listings failed"
            if self.listings_failed
            else ""
        )
        return (
            f"{source}: {self.listed} listed, {self.new} new, {self.unchanged} unchanged, "
            f"{self.failed.total()} failed" + (f" ({reasons})" if reasons else "") + listings
        )

    @property
    def errors(self) -> int:
        """Failed articles and failed listings: the pass's errors in `newsagg status`."""
        return self.failed.total() + len(self.listings_failed)

    @property
    def unreadable(self) -> bool:
        """Every listing it tried failed: nothing from this source could be read."""
        return bool(self.listings_failed) and not self.listings_answered


class PassReport:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        """Its stats exist only once the crawl starts, after the spider is made."""
        self.sources: dict[str, SourceTally] = {}

    def _tally(self, source: str) -> SourceTally:
        return self.sources.setdefault(source, SourceTally())

    def fetch(self, source: str, outcome: str, seconds: float | None = None) -> None:
        """One HTTP fetch made for a source (listing, page, robots.txt): its outcome
        (failures.FETCH_OUTCOMES' values, ok, not_modified) and download time if known."""
        FETCHES.labels(source, outcome).inc()
        if seconds is not None:
            FETCH_SECONDS.labels(source).observe(seconds)
        self.crawler.stats.inc_value(f"fetch/{outcome}")

    def listing(
        self, source: str, status: str, url: str | None = None, kind: str | None = None
    ) -> None:
        """One listing's outcome; `kind` (feed, sitemap, section) for one that was fetched."""
        self.crawler.stats.inc_value(f"listing/{status}")
        if kind is not None:
            outcome = status if status in LISTING_OUTCOMES else fetch_outcome(status)
            LISTINGS.labels(source, kind, outcome).inc()
        tally = self._tally(source)
        if status in LISTING_ANSWERED:
            tally.listings_answered += 1
            tally.last_success = time.time()
            LAST_SUCCESS.labels(source).set(tally.last_success)
        elif status not in LISTING_SKIPPED and url is not None:
            tally.listings_failed[url] = status

    def listed(self, source: str) -> None:
        """A link to an article, found in a listing or a section page."""
        self._tally(source).listed += 1

    def article(self, source: str, stage: str, status: str, stat: str | None = None) -> None:
        """One outcome of one article at one stage (crawl, extract, publish)."""
        if stage == "extract" and status == "ok":
            ARTICLES_EXTRACTED.labels(source).inc()
        elif stage == "extract":
            EXTRACTION_FAILURES.labels(source, EXTRACTION_REASONS.get(status, status)).inc()
        self.crawler.stats.inc_value(f"article/{stat or status}")
        tally = self._tally(source)
        if stage == "publish" and status == "ok":
            tally.new += 1
        elif status in ARTICLE_UNCHANGED:
            tally.unchanged += 1
        elif status not in ARTICLE_NOT_FAILED:
            tally.failed[status] += 1

    def extraction_retried(self, source: str) -> None:
        """A page's extraction failed for a reason that need not be the page's (a worker
        died, or the time ran out) and is tried once more; its outcome is counted then."""
        EXTRACTION_RETRIES.labels(source).inc()
        self.crawler.stats.inc_value("article/extract_retried")

    def low_quality(self, source: str) -> None:
        """An extracted article marked low quality: kept, and counted for the operators."""
        ARTICLES_LOW_QUALITY.labels(source).inc()
        self.crawler.stats.inc_value("article/low_quality")

    def unreadable(self) -> dict[str, dict[str, str]]:
        """Sources none of whose listings could be read, with each listing's reason."""
        return {
            name: tally.listings_failed for name, tally in self.sources.items() if tally.unreadable
        }
