"""Item pipelines: extract the article off the reactor thread, then publish it to the bus."""

from __future__ import annotations

import logging
from typing import Any

from newsagg.core.adapters import open_bus
from newsagg.core.article import Article
from newsagg.core.metrics import ARTICLES
from newsagg.core.ports import ARTICLES_TOPIC, Bus
from newsagg.core.settings import Settings
from newsagg.crawler.extraction import ExtractionError, extract_article
from newsagg.crawler.spider import FetchedPage, NewsSpider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.logformatter import LogFormatter
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread


class QuietLogFormatter(LogFormatter):
    """A dropped item is an expected outcome (unchanged, no article): one INFO line, no body."""

    def dropped(
        self, item: Any, exception: BaseException, response: Any, spider: Any = None
    ) -> Any:
        return {"level": logging.INFO, "msg": "dropped: %(reason)s", "args": {"reason": exception}}

    def scraped(self, item: Any, response: Any, spider: Any = None) -> Any:
        return {"level": logging.DEBUG, "msg": "published %(url)s", "args": {"url": item.url}}


class ExtractPipeline:
    """FetchedPage -> (page, Article); a page without an article is dropped and remembered."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractPipeline:
        return cls(crawler)

    async def process_item(self, item: Any) -> tuple[FetchedPage, Article]:
        page: FetchedPage = item
        spider: NewsSpider = self.crawler.spider  # type: ignore[assignment]
        try:
            article = await maybe_deferred_to_future(
                deferToThread(
                    extract_article,
                    page.body,
                    url=page.url,
                    source=page.source,
                    feed_published_at=page.feed_published_at,
                )
            )
        except ExtractionError as exc:
            ARTICLES.labels("extract", "no_article").inc()
            self.crawler.stats.inc_value("article/no_article")
            spider.state.record(page.listed_url, spider.queued.get(page.listed_url), "", "")
            raise DropItem(f"{page.url}: {exc}") from exc
        ARTICLES.labels("extract", "ok").inc()
        return page, article


class PublishPipeline:
    """Publishes new and changed articles, keyed by id, and remembers what it sent."""

    def __init__(self, crawler: Crawler, bus: Bus) -> None:
        self.crawler = crawler
        self.bus = bus

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PublishPipeline:
        settings: Settings = crawler.settings["NEWSAGG_SETTINGS"]
        return cls(crawler, open_bus(settings.resolved_bus_url, settings))

    def process_item(self, item: Any) -> Article:
        page, article = item
        spider: NewsSpider = self.crawler.spider  # type: ignore[assignment]
        state, stamp = spider.state, spider.queued.get(page.listed_url)
        if state.is_unchanged(page.listed_url, article.content_hash):
            ARTICLES.labels("publish", "unchanged").inc()
            state.record(page.listed_url, stamp, article.content_hash, article.id)
            raise DropItem(f"{page.url}: unchanged since the last crawl")
        self.bus.publish(ARTICLES_TOPIC, article.id, article.to_json())
        state.record(page.listed_url, stamp, article.content_hash, article.id)
        ARTICLES.labels("publish", "ok").inc()
        self.crawler.stats.inc_value("article/published")
        return article

    def close_spider(self) -> None:
        self.bus.flush()
        self.bus.close()
