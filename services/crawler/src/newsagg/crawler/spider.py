"""NewsSpider: from each source's feeds, sitemaps, homepage and sections to the
article pages behind them.

Every request carries its Source (for the private-address check and the logs);
every outcome is one log line, one Prometheus count and one Scrapy stat. Every request
ends in exactly one callback or errback, and each counts its fetch there (`_fetched`,
`_fetch_failed`); a listing request carries its kind (feed, sitemap, section) in meta.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urljoin

import scrapy
from newsagg.core.article import DateSource, canonicalize_url
from newsagg.core.sources import Source
from newsagg.crawler.autodiscovery import feed_links, robots_sitemaps
from newsagg.crawler.crawl_pass import CrawlPass
from newsagg.crawler.discovery import DiscoveryError, Link, parse_listing
from newsagg.crawler.failures import FetchFailure, classify, fetch_outcome
from newsagg.crawler.identity import own_sites
from newsagg.crawler.items import FetchedPage
from newsagg.crawler.middlewares import ALLOW_PRIVATE, origin
from newsagg.crawler.report import PassReport, SourceTally
from newsagg.crawler.sections import classify_page, follow_links
from newsagg.crawler.state import CrawlState
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.gz import gunzip
from twisted.python.failure import Failure

MAX_SITEMAP_DEPTH = 3
POLICY_REASONS = frozenset({"robots_disallowed", "private_address", "not_http"})
"""Refusals by our own rules: a warning, not an error."""
LISTING_KIND = "newsagg_listing_kind"
"""Request meta key: feed, sitemap or section, for the listings metric."""


def url_key(url: str) -> str:
    """One key per story: AMP, mobile and tracking variants of a URL share it."""
    try:
        return canonicalize_url(url)
    except ValueError:
        return url


def _private_origins(source: Source) -> frozenset[str]:
    """The source's own origins, which `allow_private` lets it reach on private addresses."""
    return (
        frozenset(origin(url) for url in source.entry_urls())
        if source.allow_private
        else frozenset()
    )


def _text(response: Response) -> str:
    return response.text if hasattr(response, "text") else response.body.decode("utf-8", "replace")


def _content_type(response: Response) -> str:
    return response.headers.get(b"Content-Type", b"").decode("latin-1").lower()


class NewsSpider(scrapy.Spider):
    name = "news"
    custom_settings: ClassVar[dict[str, Any]] = {"CONCURRENT_ITEMS": 8}
    """Scrapy starts CONCURRENT_ITEMS asyncio tasks for every callback's output, however
    few things it yields (scrapy/scrapy#5182): at its default of 100 that was 1.3 ms of
    reactor CPU per article page, which yields one item. A listing yields requests,
    which are only scheduled, so 8 in parallel lose nothing."""

    def __init__(
        self,
        sources: list[Source],
        state: CrawlState,
        since: datetime | None = None,
        max_age_days: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sources = sources
        self.progress = CrawlPass(state)
        self.cutoff = since or (
            datetime.now(UTC) - timedelta(days=max_age_days) if max_age_days else None
        )
        """Listed articles (and child sitemaps) dated before this are not fetched."""
        self.conditional = since is None
        """A backfill (--since) reads every listing in full, not only what changed."""
        self.report: PassReport

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NewsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.report = PassReport(crawler)
        return spider

    def closed(self, reason: str) -> None:
        """One line per source: what this pass listed, published, skipped and lost; and
        in the crawl state, its last success and errors (read by `newsagg status`)."""
        for source in self.sources:
            tally = self.report.sources.get(source.name, SourceTally())
            self.logger.info("pass %s: %s", reason, tally.summary(source.name))
            self.progress.state.record_pass(source.name, tally.errors, tally.last_success)

    def _fetched(self, response: Response, source: Source) -> None:
        """Count the fetch behind a callback's response (2xx, or a listing's 304)."""
        outcome = "not_modified" if response.status == 304 else "ok"
        self.report.fetch(source.name, outcome, response.meta.get("download_latency"))

    def _fetch_failed(self, failure: Failure, why: FetchFailure) -> None:
        """Count the fetch behind an errback; a timeout took the whole download timeout."""
        request = failure.request
        outcome = fetch_outcome(why.reason)
        seconds = request.meta.get("download_latency")
        if seconds is None and outcome == "timeout":
            seconds = request.meta.get("download_timeout")
        self.report.fetch(request.cb_kwargs["source"].name, outcome, seconds)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for source in self.sources:
            for request in self._entry_requests(source):
                yield request

    def _entry_requests(self, source: Source) -> Iterator[scrapy.Request]:
        for url in source.feeds:
            yield from self._listing_request(str(url), source, depth=0, kind="feed")
        for url in source.sitemaps:
            yield from self._listing_request(str(url), source, depth=0, kind="sitemap")
        if source.homepage and not (source.feeds or source.sitemaps):
            home = str(source.homepage)
            yield self._request(
                home,
                source,
                self.parse_homepage,
                self.listing_failed,
                meta={LISTING_KIND: "feed"},
            )
            yield self._request(
                urljoin(home, "/robots.txt"), source, self.parse_robots, self.robots_failed
            )
        if source.sections:
            for start in source.sections.start_urls:
                yield self._request(
                    str(start),
                    source,
                    self.parse_section,
                    self.listing_failed,
                    meta={LISTING_KIND: "section"},
                    depth=0,
                )

    def _request(
        self,
        url: str,
        source: Source,
        callback: Any,
        errback: Any,
        headers: dict[str, str] | None = None,
        meta: dict[str, Any] | None = None,
        **cb_kwargs: Any,
    ) -> scrapy.Request:
        # dont_filter: the spider dedups by url_key itself, and a redirect loop must
        # reach the redirect limit (and be reported) rather than vanish in the dupefilter.
        return scrapy.Request(
            url,
            callback=callback,
            errback=errback,
            headers=headers,
            cb_kwargs={"source": source, **cb_kwargs},
            meta={ALLOW_PRIVATE: _private_origins(source), **(meta or {})},
            dont_filter=True,
        )

    # -- feeds and sitemaps -------------------------------------------------------

    def _listing_request(
        self, url: str, source: Source, depth: int, kind: str
    ) -> Iterator[scrapy.Request]:
        if not self.progress.first_request_of(url):
            return
        etag, last_modified = self.progress.validators(url) if self.conditional else (None, None)
        headers = {"If-None-Match": etag or "", "If-Modified-Since": last_modified or ""}
        yield self._request(
            url,
            source,
            self.parse_listing,
            self.listing_failed,
            headers={k: v for k, v in headers.items() if v},
            meta={"handle_httpstatus_list": [304], LISTING_KIND: kind},
            depth=depth,
            listing=url,
        )

    def _link(self, base: str, href: str, source: Source, kind: str) -> str | None:
        """The absolute URL of a listed link; None for one no request can be made of
        (`javascript:`, `mailto:`, a bad port or IPv6 address), counted and skipped:
        it must not end the listing's other links."""
        try:
            url = urljoin(base, href)
            scrapy.Request(url)
        except ValueError as exc:
            if kind == "listing":
                self.report.listing(source.name, "bad_url", href)
            else:
                self.report.article(source.name, "crawl", "bad_url")
            self.logger.warning("skipped %s link %r of %s: %s", kind, href[:200], source.name, exc)
            return None
        return url

    def parse_listing(
        self, response: Response, source: Source, depth: int, listing: str
    ) -> Iterator[scrapy.Request]:
        self._fetched(response, source)
        kind = response.meta[LISTING_KIND]
        if response.status == 304:
            self.report.listing(source.name, "not_modified", kind=kind)
            self.logger.debug("listing %s of %s: not modified (304)", listing, source.name)
            return
        try:
            found = parse_listing(self._listing_body(response))
        except DiscoveryError as exc:
            self.report.listing(source.name, "malformed", listing, kind)
            hint = (
                "; it is an HTML page, not a feed or sitemap: give the site as `homepage:`"
                " to read the feeds it announces"
                if "html" in _content_type(response)
                else ""
            )
            self.logger.error(
                "listing %s of %s unreadable: %s%s", response.url, source.name, exc, hint
            )
            return
        self.report.listing(source.name, "ok", kind=kind)
        if not found.sitemaps:  # an index is always read: its children may change alone
            self.progress.listing_read(
                listing,
                response.headers.get(b"ETag", b"").decode("latin-1") or None,
                response.headers.get(b"Last-Modified", b"").decode("latin-1") or None,
            )
        for child in found.sitemaps:
            if self._too_old(child.modified_at):
                self.report.listing(source.name, "too_old")
                self.logger.debug("skipped sitemap %s: lastmod before %s", child.url, self.cutoff)
            elif depth < MAX_SITEMAP_DEPTH and (
                url := self._link(response.url, child.url, source, "listing")
            ):
                yield from self._listing_request(url, source, depth + 1, "sitemap")
        for link in found.links:
            if self._too_old(link.stamp):
                self.report.article(source.name, "crawl", "too_old")
                continue
            self.report.listed(source.name)
            if url := self._link(response.url, link.url, source, "article"):
                yield from self._article_request(url, source, link, listing, found.kind)
        self.progress.listing_parsed(listing)

    def _listing_body(self, response: Response) -> bytes:
        """The body, gunzipped if it is a .xml.gz sitemap (within DOWNLOAD_MAXSIZE)."""
        body = response.body
        if body[:3] != b"\x1f\x8b\x08":
            return body
        try:
            return gunzip(body, max_size=self.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
        except (OSError, EOFError, ValueError, struct.error) as exc:
            raise DiscoveryError(f"gzip listing not readable or too large: {exc}") from exc

    def _too_old(self, stamp: datetime | None) -> bool:
        return bool(self.cutoff and stamp and stamp < self.cutoff)

    def _article_request(
        self, url: str, source: Source, link: Link, listing: str | None, listed_in: DateSource
    ) -> Iterator[scrapy.Request]:
        key = url_key(url)
        if self.progress.wants(key, link.stamp, listing):
            yield self._request(
                url,
                source,
                self.parse_article,
                self.article_failed,
                link=link,
                listed_url=key,
                listing=listing,
                listed_in=listed_in,
            )
        elif key not in self.progress.queued:
            self.report.article(source.name, "crawl", "unchanged")

    def parse_article(
        self,
        response: Response,
        source: Source,
        link: Link,
        listed_url: str,
        listing: str | None,
        listed_in: DateSource,
    ) -> Iterator[FetchedPage]:
        self._fetched(response, source)
        if self._html(response, source):
            yield self._page(response, source, listed_url, link.published_at, listed_in)
        else:
            self.progress.page_failed(listed_url)

    def _page(
        self,
        response: Response,
        source: Source,
        listed_url: str,
        published_at: datetime | None,
        listed_in: DateSource = DateSource.FEED,
    ) -> FetchedPage:
        """`published_at`: the listing's date of the page, from a `listed_in` feed or sitemap."""
        return FetchedPage(
            listed_url,
            response.url,
            response.body,
            source.name,
            published_at,
            own_sites(source),
            listed_in,
            _content_type(response) or None,
        )

    def _html(self, response: Response, source: Source) -> bool:
        content_type = _content_type(response)
        if content_type and "html" not in content_type:
            self.report.article(source.name, "crawl", "not_html")
            self.logger.warning(
                "skipped %s: content type %s is not HTML", response.url, content_type
            )
            return False
        return True

    # -- homepage and robots.txt autodiscovery ------------------------------------

    def parse_homepage(self, response: Response, source: Source) -> Iterator[scrapy.Request]:
        self._fetched(response, source)
        feeds = feed_links(_text(response), response.url) if self._html(response, source) else []
        if not feeds:
            self.report.listing(source.name, "no_feed_announced", response.url, "feed")
            self.logger.warning("homepage %s of %s announces no feed", response.url, source.name)
        for url in feeds:
            self.logger.debug("homepage of %s announces feed %s", source.name, url)
            yield from self._listing_request(url, source, depth=0, kind="feed")

    def parse_robots(self, response: Response, source: Source) -> Iterator[scrapy.Request]:
        self._fetched(response, source)
        for url in robots_sitemaps(_text(response), response.url):
            self.logger.debug("robots.txt of %s names sitemap %s", source.name, url)
            yield from self._listing_request(url, source, depth=0, kind="sitemap")

    def robots_failed(self, failure: Failure) -> None:
        why = classify(failure)
        self._fetch_failed(failure, why)
        self.crawler.stats.inc_value(f"listing/robots_txt/{why.reason}")
        self.logger.info("no sitemaps from %s (%s)", failure.request.url, why.detail)

    # -- sections -------------------------------------------------------------------

    def parse_section(
        self, response: Response, source: Source, depth: int
    ) -> Iterator[scrapy.Request]:
        """A start URL: an index page by definition; follow its links."""
        self._fetched(response, source)
        self.report.listing(source.name, "ok", kind="section")
        if self._html(response, source):
            yield from self._follow(response, source, depth)

    def _follow(self, response: Response, source: Source, depth: int) -> Iterator[scrapy.Request]:
        assert source.sections is not None
        if depth >= source.sections.depth:
            return
        for url in follow_links(_text(response), response.url, source.sections):
            self.report.listed(source.name)
            key = url_key(url)
            if key in self.progress.queued:
                continue
            if not self.progress.wants(key, None, None):
                self.report.article(source.name, "crawl", "unchanged")
                continue
            yield self._request(
                url,
                source,
                self.parse_section_page,
                self.article_failed,
                depth=depth + 1,
                listed_url=key,
                listing=None,
            )

    def parse_section_page(
        self,
        response: Response,
        source: Source,
        depth: int,
        listed_url: str,
        listing: str | None,
    ) -> Iterator[FetchedPage | scrapy.Request]:
        """An article is published; an index, tag or author page is only followed."""
        self._fetched(response, source)
        if not self._html(response, source):
            return
        kind = classify_page(response.body)
        if kind.is_article:
            yield self._page(response, source, listed_url, None)
            return
        self.report.article(source.name, "crawl", "not_article")
        self.logger.debug("not an article, links followed: %s (%s)", response.url, kind.reason)
        yield from self._follow(response, source, depth)

    # -- failures -------------------------------------------------------------------

    def listing_failed(self, failure: Failure) -> None:
        why = classify(failure)
        self._fetch_failed(failure, why)
        source: Source = failure.request.cb_kwargs["source"]
        kind = failure.request.meta[LISTING_KIND]
        self.report.listing(source.name, why.reason, failure.request.url, kind)
        level = logging.WARNING if why.reason in POLICY_REASONS else logging.ERROR
        self.logger.log(
            level,
            "listing fetch failed (%s): %s of %s: %s",
            why.reason,
            failure.request.url,
            source.name,
            why.detail,
        )

    def article_failed(self, failure: Failure) -> None:
        """Logged and counted; a permanent failure is remembered so it is not fetched
        again until its listing date changes, a transient one is not done, so its
        listing keeps no validators and the next pass tries it again."""
        why = classify(failure)
        self._fetch_failed(failure, why)
        request = failure.request
        self.report.article(request.cb_kwargs["source"].name, "crawl", why.reason)
        if not why.transient:
            self.progress.page_failed(request.cb_kwargs["listed_url"])
        level = logging.WARNING if why.reason in POLICY_REASONS else logging.ERROR
        self.logger.log(
            level,
            "article fetch failed (%s): %s of %s: %s",
            why.reason,
            request.url,
            request.cb_kwargs["source"].name,
            why.detail,
        )
