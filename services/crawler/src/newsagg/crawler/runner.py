"""Wiring of the crawler service: Scrapy settings from ours, one pass or a polling loop.

Scrapy and the spider are imported by `crawl` once it has started the extraction pool, not
when this module is: the pool's forkserver then imports and warms the extraction code
(about a second) while this process imports Scrapy (most of another), instead of after.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from newsagg.core.logs import configure_logging
from newsagg.core.metrics import serve_metrics
from newsagg.core.settings import Settings
from newsagg.core.sources import Source, load_sources, select_shard
from newsagg.crawler.extraction_pool import SHARED_POOL
from newsagg.crawler.metrics import (
    EXTRACTION_QUEUE,
    LAST_SUCCESS,
    POLL_INTERVAL,
    REGISTRY,
    SOURCES,
)
from newsagg.crawler.state import CrawlState
from twisted.python.failure import Failure

if TYPE_CHECKING:
    from scrapy.crawler import Crawler, CrawlerProcess

log = logging.getLogger("newsagg.crawler")

SCRAPY_CHATTER = (
    "scrapy.addons",
    "scrapy.core.engine",
    "scrapy.crawler",
    "scrapy.extensions.logstats",
    "scrapy.extensions.telnet",
    "scrapy.middleware",
    "scrapy.statscollectors",
    "scrapy.utils.log",
)
"""Loggers whose INFO lines (settings, middleware lists, stats dumps, "Spider opened")
are per-pass noise: shown at DEBUG; the spider's summary line is the pass's INFO."""


class UnreadableSources(RuntimeError):
    """`crawl --once`: every listing of these sources failed; the message names them."""

    def __init__(self, unreadable: dict[str, dict[str, str]]) -> None:
        lines = [
            f"{name}: " + "; ".join(f"{url} ({why})" for url, why in listings.items())
            for name, listings in sorted(unreadable.items())
        ]
        super().__init__(
            f"no listing of {len(unreadable)} source(s) could be read:\n  " + "\n  ".join(lines)
        )


UNLOADED_EXTENSIONS = frozenset(
    {"scrapy.extensions.remote_control.RemoteControl", "scrapy.extensions.telnet.TelnetConsole"}
)
"""Scrapy extensions the crawler turns off and never imports."""


def _as_debug(record: logging.LogRecord) -> bool:
    if record.levelno == logging.INFO:
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
    return True


def quiet_scrapy_chatter() -> None:
    for name in SCRAPY_CHATTER:
        logger = logging.getLogger(name)
        if _as_debug not in logger.filters:
            logger.addFilter(_as_debug)


def scrapy_settings(settings: Settings) -> dict[str, Any]:
    from scrapy.settings import default_settings

    return {
        "BOT_NAME": "newsagg",
        "USER_AGENT": settings.user_agent,
        "ROBOTSTXT_OBEY": True,
        "CONCURRENT_REQUESTS": settings.crawl_concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": settings.crawl_host_concurrency,
        "DOWNLOAD_DELAY": settings.crawl_delay,
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": max(settings.crawl_delay, 0.1),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(settings.crawl_host_concurrency),
        "DOWNLOAD_TIMEOUT": settings.download_timeout,
        "DOWNLOAD_MAXSIZE": settings.max_page_bytes,  # HttpCompression applies it unzipped too
        "DOWNLOAD_WARNSIZE": 0,
        "RETRY_TIMES": 2,
        "NEWSAGG_RETRY_BACKOFF": settings.crawl_retry_backoff,
        "REDIRECT_MAX_TIMES": 5,
        "DOWNLOADER_MIDDLEWARES": {
            "newsagg.crawler.middlewares.PrivateAddressMiddleware": 50,  # before robots.txt
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "newsagg.crawler.middlewares.BackoffRetryMiddleware": 550,
            "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
            "newsagg.crawler.middlewares.MetaRefreshMiddleware": 580,
        },
        # only http(s) is ever fetched: no handler for file://, data:, ftp:// or s3://
        "DOWNLOAD_HANDLERS": {"file": None, "data": None, "ftp": None, "s3": None},
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        # Scrapy 2.13+ serves Python code execution over HTTP (for its MCP server): never
        "REMOTE_CONTROL_ENABLED": False,
        # and neither is loaded: the remote control's module imports aiohttp (0.8 s of
        # the crawler's start here). Left out of the base list, as naming them with None
        # in EXTENSIONS still imports them (Scrapy resolves those keys).
        "EXTENSIONS_BASE": {
            name: order
            for name, order in default_settings.EXTENSIONS_BASE.items()
            if name not in UNLOADED_EXTENSIONS
        },
        "LOG_LEVEL": settings.log_level,
        "LOG_INSTALL_ROOT_HANDLER": False,
        "LOG_FORMATTER": "newsagg.crawler.pipelines.QuietLogFormatter",
        "ITEM_PIPELINES": {
            "newsagg.crawler.pipelines.ExtractPipeline": 100,
            "newsagg.crawler.pipelines.PublishPipeline": 200,
        },
        "NEWSAGG_SETTINGS": settings,
    }


def crawl(
    settings: Settings,
    *,
    once: bool,
    sources: list[Source] | None = None,
    since: datetime | None = None,
) -> None:
    """Crawl every source once, or poll each on its own interval until SIGINT/SIGTERM.

    `since` is a backfill: one pass that reads every listing in full and fetches
    the articles listed as of that date or later (it implies `once`). A one-shot
    pass raises UnreadableSources when every listing of a source failed.
    """
    if sources is None:
        every = load_sources(settings.sources)
        sources = select_shard(every, settings.crawler_shard, settings.crawler_shards)
        if settings.crawler_shards > 1:
            log.info(
                "crawler shard %d of %d: %d of %d sources (%s)",
                settings.crawler_shard,
                settings.crawler_shards,
                len(sources),
                len(every),
                ", ".join(source.name for source in sources) or "none",
            )
    if not once and since is None:
        serve_metrics(
            REGISTRY,
            settings.metrics_host,
            settings.crawler_metrics_port,
            "NEWSAGG_CRAWLER_METRICS_PORT",
        )
    state = CrawlState(settings.crawl_state_path)
    _set_gauges(sources, state)
    one_shot = once or since is not None
    # The extraction workers start now (a forkserver that imports and warms the extraction
    # code: about a second of CPU), beside Scrapy's own start and the first listings,
    # rather than when the first spider opens.
    SHARED_POOL.acquire()
    try:
        from newsagg.crawler.progress import progress_settings
        from newsagg.crawler.spider import NewsSpider
        from scrapy.crawler import CrawlerProcess

        process = CrawlerProcess({**scrapy_settings(settings), **progress_settings(one_shot)})
        configure_logging(settings.log_level, settings.log_format, "crawler")  # after Scrapy's
        quiet_scrapy_chatter()
        if once or since is not None:
            crawler = process.create_crawler(NewsSpider)
            process.crawl(
                crawler,
                sources=sources,
                state=state,
                since=since,
                max_age_days=settings.crawl_max_age_days,
            )
            process.start()
            if crawler.spider is not None and (unreadable := crawler.spider.report.unreadable()):
                raise UnreadableSources(unreadable)
        else:
            pollers = {
                source.name: SourcePoller(process, source, state, settings.crawl_max_age_days)
                for source in sources
            }
            websub = None
            if settings.websub_callback_url:
                from newsagg.crawler.websub import WebSub

                websub = WebSub(settings, state, sources, lambda name: pollers[name].now())
                for poller in pollers.values():
                    poller.watch = websub.watch
            for poller in pollers.values():
                poller.now()
            if websub is not None:  # after the first crawl: Scrapy has installed its reactor
                websub.start()
            process.start(stop_after_crawl=False)
    finally:
        SHARED_POOL.release()
        state.close()


def _set_gauges(sources: list[Source], state: CrawlState) -> None:
    """What the crawler knows before its first pass: the sources, their intervals, and
    each one's last success from the crawl state (so a restart does not blank it)."""
    SOURCES.set(len(sources))
    EXTRACTION_QUEUE.set_function(lambda: SHARED_POOL.pending)
    passes = state.source_passes()
    for source in sources:
        POLL_INTERVAL.labels(source.name).set(source.interval)
        known = passes.get(source.name)
        if known is not None and known.last_success is not None:
            LAST_SUCCESS.labels(source.name).set(known.last_success)


class SourcePoller:
    """Crawls one source now and every `interval` seconds from the start of each pass (at
    once after a pass that took longer), so a story waits at most one interval plus a
    pass; `now()` (a WebSub notification) starts a pass at once, or right after the one
    running."""

    def __init__(
        self,
        process: CrawlerProcess,
        source: Source,
        state: CrawlState,
        max_age_days: int,
        clock: Any = None,
    ) -> None:
        self.process = process
        self.clock = clock
        """callLater and seconds (IReactorTime); None: Scrapy's reactor, once installed."""
        self.source = source
        self.state = state
        self.max_age_days = max_age_days
        self.watch: Callable[[Crawler], None] | None = None
        """Called with each pass's crawler before it starts (WebSub reads its feeds)."""
        self._running = False
        self._again = False
        self._next: Any = None
        self._started = 0.0

    def now(self) -> None:
        if self._running:
            self._again = True  # the running pass may have read the feed before the change
            return
        if self._next is not None and self._next.active():
            self._next.cancel()
        self._crawl()

    def _crawl(self) -> None:
        self._running, self._again = True, False
        self._started = self._now()
        log.info("crawling %s (then every %.0fs)", self.source.name, self.source.interval)
        from newsagg.crawler.spider import NewsSpider

        crawler = self.process.create_crawler(NewsSpider)
        if self.watch is not None:
            self.watch(crawler)
        spider_args = {
            "sources": [self.source],
            "state": self.state,
            "max_age_days": self.max_age_days,
        }
        self.process.crawl(crawler, **spider_args).addBoth(self._done)

    def _now(self) -> float:
        """Monotonic seconds; never the reactor's clock before the first crawl has
        installed Scrapy's reactor (importing it would install Twisted's default one)."""
        return self.clock.seconds() if self.clock is not None else time.monotonic()

    @property
    def _clock(self) -> Any:
        """The test's clock, or the reactor (only once a crawl has run: see _now)."""
        if self.clock is not None:
            return self.clock
        from twisted.internet import reactor  # imported late: Scrapy chooses the reactor

        return reactor

    def _done(self, outcome: object) -> None:
        self._running = False
        if isinstance(outcome, Failure):
            log.error("crawl of %s failed: %s", self.source.name, outcome.getTraceback())
        clock = self._clock
        if not getattr(clock, "running", True):  # the reactor is stopping
            return
        if self._again:
            self._next = clock.callLater(0, self._crawl)
        else:
            wait = max(0.0, self.source.interval - (self._now() - self._started))
            self._next = clock.callLater(wait, self._crawl)
