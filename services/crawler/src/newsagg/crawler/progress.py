"""A live progress line for one-shot crawls (`crawl --once`, `--since`) at a terminal.

A Scrapy extension that reads the crawl's own stats once a second (the counters the pass
report keeps: no hook in the spider or pipelines) and redraws one line on stderr. It is on
only for a one-shot crawl whose stderr is a terminal (`progress_settings`): logs, pipes and
the services `newsagg up` runs get nothing extra.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, TextIO

from newsagg.crawler.report import ARTICLE_NOT_FAILED, ARTICLE_UNCHANGED
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet.task import LoopingCall

NOT_FAILED = ARTICLE_NOT_FAILED | ARTICLE_UNCHANGED | {"extracted"}
"""article/<outcome> stats that are not failures (extracted is a step on the way)."""
INTERVAL = 1.0
CLEAR_LINE = "\r\x1b[K"


def progress_settings(one_shot: bool, stream: TextIO = sys.stderr) -> dict[str, Any]:
    """The Scrapy settings that turn the progress line on, when it is wanted."""
    if not one_shot or not stream.isatty():
        return {}
    return {"EXTENSIONS": {f"{__name__}.CrawlProgress": 500}, "NEWSAGG_PROGRESS": True}


def progress_line(stats: Mapping[str, Any]) -> str:
    """One line from a crawl's stats: what a person waiting for a one-shot crawl wants."""
    articles = {
        key.removeprefix("article/"): int(value)
        for key, value in stats.items()
        if key.startswith("article/")
    }
    failed = sum(n for outcome, n in articles.items() if outcome not in NOT_FAILED)
    listings = sum(
        int(v) for k, v in stats.items() if k.startswith("listing/") and k.count("/") == 1
    )
    return (
        f"{listings} listings read, "
        f"{int(stats.get('downloader/response_count', 0))} pages fetched, "
        f"{articles.get('published', 0)} published, "
        f"{articles.get('unchanged', 0)} unchanged, {failed} failed"
    )


class CrawlProgress:
    def __init__(self, crawler: Crawler, stream: TextIO) -> None:
        self.crawler = crawler
        self.stream = stream
        self.ticker = LoopingCall(self.refresh)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlProgress:
        if not crawler.settings.getbool("NEWSAGG_PROGRESS"):
            raise NotConfigured
        progress = cls(crawler, sys.stderr)
        crawler.signals.connect(progress.opened, signal=signals.spider_opened)
        crawler.signals.connect(progress.closed, signal=signals.spider_closed)
        return progress

    def _draw(self, prefix: str, end: str = "") -> None:
        assert self.crawler.stats is not None
        line = progress_line(self.crawler.stats.get_stats())
        self.stream.write(f"{CLEAR_LINE}{prefix}: {line}{end}")
        self.stream.flush()

    def opened(self) -> None:
        self.ticker.start(INTERVAL, now=True)

    def refresh(self) -> None:
        self._draw("crawling")

    def closed(self) -> None:
        if self.ticker.running:
            self.ticker.stop()
        self._draw("crawled", "\n")
