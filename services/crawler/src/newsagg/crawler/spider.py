"""NewsSpider: from each source's feeds and sitemaps to the article pages behind them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

import scrapy
from newsagg.core.metrics import ARTICLES, LISTINGS
from newsagg.core.sources import Source
from newsagg.crawler.discovery import DiscoveryError, Link, parse_listing
from newsagg.crawler.state import CrawlState
from scrapy.http import Response
from twisted.python.failure import Failure

MAX_SITEMAP_DEPTH = 3


@dataclass
class FetchedPage:
    """An article page as downloaded, on its way to extraction and the bus."""

    listed_url: str
    url: str
    body: str
    source: str
    feed_published_at: datetime | None


def _newest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(a, b) if a and b else a or b


class NewsSpider(scrapy.Spider):
    name = "news"

    def __init__(self, sources: list[Source], state: CrawlState, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sources = sources
        self.state = state
        self.queued: dict[str, datetime | None] = {}
        """URLs requested in this pass, with the newest date any listing gave them."""

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for source in self.sources:
            for url in (*source.feeds, *source.sitemaps):
                yield self._listing_request(str(url), source.name, depth=0)

    def _listing_request(self, url: str, source: str, depth: int) -> scrapy.Request:
        return scrapy.Request(
            url,
            callback=self.parse_listing,
            errback=self.listing_failed,
            cb_kwargs={"source": source, "depth": depth},
            dont_filter=True,
        )

    def parse_listing(
        self, response: Response, source: str, depth: int
    ) -> Iterator[scrapy.Request]:
        try:
            found = parse_listing(response.body)
        except DiscoveryError as exc:
            LISTINGS.labels("malformed").inc()
            self.crawler.stats.inc_value("listing/malformed")
            self.logger.error("listing %s of %s unreadable: %s", response.url, source, exc)
            return
        LISTINGS.labels("ok").inc()
        if depth < MAX_SITEMAP_DEPTH:
            for child in found.sitemaps:
                yield self._listing_request(urljoin(response.url, child), source, depth + 1)
        for link in found.links:
            url = urljoin(response.url, link.url)
            if url in self.queued:  # listed twice (feed and sitemap): keep the newest date
                self.queued[url] = _newest(self.queued[url], link.stamp)
                self.state.raise_stamp(url, self.queued[url])
            elif self.state.needs_fetch(url, link.stamp):
                self.queued[url] = link.stamp
                yield self._article_request(url, source, link)
            else:
                ARTICLES.labels("crawl", "unchanged").inc()
                self.crawler.stats.inc_value("article/unchanged")

    def _article_request(self, url: str, source: str, link: Link) -> scrapy.Request:
        return scrapy.Request(
            url,
            callback=self.parse_article,
            errback=self.article_failed,
            cb_kwargs={"source": source, "link": link, "listed_url": url},
        )

    def parse_article(
        self, response: Response, source: str, link: Link, listed_url: str
    ) -> Iterator[FetchedPage]:
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1").lower()
        if content_type and "html" not in content_type:
            ARTICLES.labels("crawl", "not_html").inc()
            self.logger.warning(
                "skipped %s: content type %s is not HTML", response.url, content_type
            )
            return
        yield FetchedPage(
            listed_url=listed_url,
            url=response.url,
            body=response.text
            if hasattr(response, "text")
            else response.body.decode("utf-8", "replace"),
            source=source,
            feed_published_at=link.published_at,
        )

    def listing_failed(self, failure: Failure) -> None:
        LISTINGS.labels("fetch_failed").inc()
        self.logger.error(
            "listing fetch failed: %s: %s", failure.request.url, failure.getErrorMessage()
        )

    def article_failed(self, failure: Failure) -> None:
        ARTICLES.labels("crawl", "fetch_failed").inc()
        self.logger.error(
            "article fetch failed: %s: %s", failure.request.url, failure.getErrorMessage()
        )
