"""Run `newsagg crawl` as a child process against the test site, and read the outcome."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from newsagg.core.adapters.sqlite_bus import SqliteLogBus
from newsagg.core.article import Article
from newsagg.core.ports import ARTICLES_TOPIC

FAST_FAILURES = {  # for the hostile cases: a short timeout, a small size limit, quick retries
    "NEWSAGG_DOWNLOAD_TIMEOUT": "3",
    "NEWSAGG_MAX_PAGE_BYTES": "200000",
    "NEWSAGG_CRAWL_RETRY_BACKOFF": "0.05",
    "NEWSAGG_CRAWL_HOST_CONCURRENCY": "4",
}


@dataclass
class CrawlRun:
    returncode: int
    log: str

    def stat(self, key: str) -> int:
        """A value from the Scrapy stats the crawler logs when it closes (0 if absent)."""
        found = re.search(rf"'{re.escape(key)}': (\d+)", self.log)
        return int(found.group(1)) if found else 0

    def fetched(self, path_prefix: str) -> list[str]:
        return re.findall(
            rf"Crawled \(200\) <GET https?://[^/\s]+({re.escape(path_prefix)}\S*)>", self.log
        )


def crawl(data_dir: Path, sources: str, *args: str, **env: str) -> CrawlRun:
    """One `newsagg crawl --once` (plus args) with its state and bus under data_dir."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "sources.yaml").write_text(sources)
    result = subprocess.run(
        [sys.executable, "-m", "newsagg.cli.main", "crawl", "--once", *args],
        env={
            **os.environ,
            "NEWSAGG_DATA_DIR": str(data_dir),
            "NEWSAGG_SOURCES": str(data_dir / "sources.yaml"),
            "NEWSAGG_LOG_LEVEL": "DEBUG",
            "NEWSAGG_CRAWL_HOST_CONCURRENCY": "4",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=180,
    )
    return CrawlRun(result.returncode, result.stdout + result.stderr)


def published(data_dir: Path) -> list[Article]:
    """Every article on the bus, in publish order."""
    bus = SqliteLogBus(data_dir / "bus.sqlite")
    consumer = bus.consumer(ARTICLES_TOPIC, "crawler-test")
    try:
        articles: list[Article] = []
        while batch := consumer.poll(1000, timeout=0.2):
            articles.extend(Article.from_json(message.value) for message in batch)
        return articles
    finally:
        consumer.close()
        bus.close()
