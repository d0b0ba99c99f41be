"""Item pipelines: extract the article in worker processes, then publish it to the bus."""

from __future__ import annotations

import logging
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from newsagg.core.adapters import open_bus
from newsagg.core.article import Article, Quality
from newsagg.core.ports import Bus
from newsagg.core.settings import Settings
from newsagg.crawler.crawl_pass import CrawlPass
from newsagg.crawler.extraction_error import ExtractionError
from newsagg.crawler.extraction_pool import (
    SHARED_POOL,
    ExtractionPool,
    ExtractionTimeout,
    extract_page,
)
from newsagg.crawler.items import ExtractedPage, FetchedPage
from newsagg.crawler.publishing import BusWriter, Sent
from newsagg.crawler.report import PassReport
from newsagg.crawler.spider import NewsSpider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.logformatter import LogFormatter
from scrapy.utils.defer import maybe_deferred_to_future

log = logging.getLogger("newsagg.crawler")


class QuietLogFormatter(LogFormatter):
    """A dropped item is an expected outcome (unchanged, no article): a DEBUG line, no body;
    the pass's summary line counts them."""

    def dropped(
        self, item: Any, exception: BaseException, response: Any, spider: Any = None
    ) -> Any:
        return {"level": logging.DEBUG, "msg": "dropped: %(reason)s", "args": {"reason": exception}}

    def scraped(self, item: Any, response: Any, spider: Any = None) -> Any:
        return {"level": logging.DEBUG, "msg": "published %(url)s", "args": {"url": item.url}}


def _pass_of(crawler: Crawler) -> tuple[CrawlPass, PassReport]:
    """The pass's ledger and report: made with the spider, which Scrapy creates before
    the pipelines, and handed to them here, once."""
    spider = crawler.spider
    if not isinstance(spider, NewsSpider):
        raise TypeError(f"newsagg's pipelines run under NewsSpider, not {type(spider)}")
    return spider.progress, spider.report


class ExtractPipeline:
    """FetchedPage -> ExtractedPage; a page without an article is dropped and remembered.

    Parsing is CPU-bound, so it runs in worker processes (see extraction_pool) and the
    reactor keeps fetching meanwhile; the pipeline awaits the result as a Deferred.
    """

    def __init__(
        self,
        progress: CrawlPass,
        report: PassReport,
        timeout: float,
        pool: ExtractionPool = SHARED_POOL,
    ) -> None:
        self.progress = progress
        self.report = report
        self.timeout = timeout
        self.pool = pool

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractPipeline:
        settings: Settings = crawler.settings["NEWSAGG_SETTINGS"]
        return cls(*_pass_of(crawler), settings.extraction_timeout)

    def open_spider(self) -> None:
        self.pool.acquire()

    def close_spider(self) -> None:
        self.pool.release()

    async def process_item(self, item: Any) -> ExtractedPage:
        page: FetchedPage = item
        try:
            article = await self._extract(page)
        except ExtractionError as exc:
            self.report.article(page.source, "extract", "no_article")
            self.progress.page_failed(page.listed_url)
            log.warning("no article in %s of %s: %s", page.url, page.source, exc)
            raise DropItem(f"{page.url}: {exc}") from exc
        except ExtractionTimeout as exc:  # on its second try: the page, not a passing hang
            self.report.article(page.source, "extract", "timeout", "extract_timeout")
            self.progress.page_failed(page.listed_url)
            log.error(
                "gave up extracting %s of %s on its second try: %s", page.url, page.source, exc
            )
            raise DropItem(f"{page.url}: {exc}") from exc
        except BrokenProcessPool as exc:  # its worker died on both tries; next pass
            self.report.article(page.source, "extract", "worker_died", "extract_worker_died")
            raise DropItem(f"{page.url}: extraction worker died: {exc}") from exc
        except Exception as exc:  # a bug in extraction: counted, logged, tried next pass
            self.report.article(page.source, "extract", "error", "extract_error")
            log.exception("extraction of %s of %s failed", page.url, page.source)
            raise DropItem(f"{page.url}: extraction failed: {exc!r}") from exc
        self.report.article(page.source, "extract", "ok", "extracted")
        if article.quality is Quality.LOW:
            self.report.low_quality(page.source)
        return ExtractedPage(page, article)

    async def _extract(self, page: FetchedPage) -> Article:
        """The page's article from a worker, tried once more on a renewed pool when a
        worker died (killed, out of memory, or replaced because another page ran out of
        time) or this page ran out of time: either may have nothing to do with the page,
        and the next pass may be an hour away."""
        try:
            return await self._extract_once(page)
        except (BrokenProcessPool, ExtractionTimeout) as exc:
            self.report.extraction_retried(page.source)
            log.warning("extracting %s of %s again: %s", page.url, page.source, exc)
        return await self._extract_once(page)

    async def _extract_once(self, page: FetchedPage) -> Article:
        return await maybe_deferred_to_future(
            self.pool.submit(extract_page, page, timeout=self.timeout)
        )


class PublishPipeline:
    """Publishes new and changed articles, keyed by id, and remembers what it sent.

    The writes go through a BusWriter (publishing.py): the bus's and the crawl state's
    syncs happen off the reactor thread, a burst at a time, and a page is remembered as
    sent only after the bus has it durably. An item is done once its burst is: Scrapy
    holds its response until then, so a slow bus slows the crawl instead of piling up
    articles in memory.
    """

    def __init__(self, progress: CrawlPass, report: PassReport, bus: Bus) -> None:
        self.progress = progress
        self.report = report
        self.bus = bus
        self.writer = BusWriter(bus, progress.record_sent)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PublishPipeline:
        settings: Settings = crawler.settings["NEWSAGG_SETTINGS"]
        return cls(*_pass_of(crawler), open_bus(settings.resolved_bus_url, settings))

    async def process_item(self, item: Any) -> Article:
        extracted: ExtractedPage = item
        page, article = extracted.page, extracted.article
        sent = Sent(page.listed_url, article.content_hash, article.id)
        if self.progress.is_unchanged(page.listed_url, article.content_hash):
            await maybe_deferred_to_future(self.writer.unchanged(sent))
            self.report.article(page.source, "publish", "unchanged")
            self.progress.page_done(page.listed_url)
            raise DropItem(f"{page.url}: unchanged since the last crawl")
        await maybe_deferred_to_future(self.writer.publish(sent, article.to_json()))
        self.progress.page_done(page.listed_url)
        self.report.article(page.source, "publish", "ok", "published")
        return article

    def close_spider(self) -> None:
        try:
            self.writer.close()
        finally:
            self.bus.close()
