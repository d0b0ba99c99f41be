"""One pass over a source: what it queued, what is done, and the one writer of crawl state.

A listing's validators (ETag, Last-Modified) are a promise that everything it lists
is already known: the next pass sends them and a 304 skips the listing whole. So
they are kept only once every page the listing named is done (recorded in the crawl
state after the bus has it durably, found unchanged, or failed for good). A pass that
is interrupted (kill -9, SIGTERM, a full disk, a dead extraction worker) or whose
pages failed for now keeps no validators, and the next pass reads the listing in full
and fetches what is still missing. Reading a listing in full forgets its old
validators at once, so a server that would answer them with 304 cannot hide what the
pass did not finish.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from newsagg.crawler.publishing import Sent
from newsagg.crawler.state import CrawlState


def _newest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(a, b) if a and b else a or b


@dataclass
class _Listing:
    etag: str | None
    last_modified: str | None
    waiting_for: set[str] = field(default_factory=set)
    """Page keys it listed that are not done yet."""
    parsed: bool = False
    """Every link of the listing has been seen (the parse ran to its end)."""


class CrawlPass:
    """The pass's queue and ledger; every crawl-state write of the pass goes through it."""

    def __init__(self, state: CrawlState) -> None:
        self.state = state
        self.queued: dict[str, datetime | None] = {}
        """Page keys requested in this pass, with the newest date any listing gave them."""
        self.requested_listings: set[str] = set()
        self._listings: dict[str, _Listing] = {}
        self._done: set[str] = set()
        self._waiting: dict[str, set[str]] = {}
        """Page key -> the listings (read in this pass) waiting for it."""

    # -- listings -------------------------------------------------------------------

    def first_request_of(self, listing: str) -> bool:
        """True the first time a listing is asked for in this pass."""
        if listing in self.requested_listings:
            return False
        self.requested_listings.add(listing)
        return True

    def validators(self, listing: str) -> tuple[str | None, str | None]:
        return self.state.validators(listing)

    def listing_read(self, listing: str, etag: str | None, last_modified: str | None) -> None:
        """A listing came in full (200): its old validators no longer hold."""
        self.state.forget_validators(listing)
        self._listings[listing] = _Listing(etag, last_modified)

    def listing_parsed(self, listing: str) -> None:
        """Every link of the listing has been through `wants`; keep its validators if
        nothing it listed is still pending."""
        entry = self._listings.get(listing)
        if entry is not None:
            entry.parsed = True
            self._keep_if_complete(listing)

    # -- pages ------------------------------------------------------------------------

    def wants(self, key: str, stamp: datetime | None, listing: str | None) -> bool:
        """Should the page be requested? Also ties it to the listing that named it, so
        the listing's validators wait for it."""
        if key in self.queued:  # listed twice (feed and sitemap, AMP and not): newest date
            self.queued[key] = _newest(self.queued[key], stamp)
            self.state.raise_stamp(key, self.queued[key])
            self._wait(listing, key)
            return False
        if not self.state.needs_fetch(key, stamp):
            return False
        self.queued[key] = stamp
        self._wait(listing, key)
        return True

    def is_unchanged(self, key: str, content_hash: str) -> bool:
        return self.state.is_unchanged(key, content_hash)

    def page_published(self, key: str, content_hash: str, article_id: str) -> None:
        """Sent and durably on the bus, or found unchanged since the last crawl."""
        self.record_sent([Sent(key, content_hash, article_id)])
        self.page_done(key)

    def record_sent(self, pages: Sequence[Sent]) -> None:
        """`page_published`'s crawl-state write for a burst of pages, in one transaction.
        The one method of the pass safe on another thread (the bus writer's): it only
        writes the state and reads each page's listed date."""
        self.state.record_many(
            (sent.key, self.queued.get(sent.key), sent.content_hash, sent.article_id)
            for sent in pages
        )

    def page_done(self, key: str) -> None:
        """`page_published`'s second half, on the reactor thread once the write is done:
        the listings that waited for the page may keep their validators now."""
        self._done_with(key)

    def page_failed(self, key: str) -> None:
        """Failed for good (4xx, not HTML, no article): not fetched again until a listing
        gives it a newer date."""
        self.state.record_dead_end(key, self.queued.get(key))
        self._done_with(key)

    def _done_with(self, key: str) -> None:
        self._done.add(key)
        for listing in self._waiting.pop(key, ()):
            self._listings[listing].waiting_for.discard(key)
            self._keep_if_complete(listing)

    def _wait(self, listing: str | None, key: str) -> None:
        if listing is None or listing not in self._listings or key in self._done:
            return
        self._listings[listing].waiting_for.add(key)
        self._waiting.setdefault(key, set()).add(listing)

    def _keep_if_complete(self, listing: str) -> None:
        entry = self._listings[listing]
        if entry.parsed and not entry.waiting_for:
            self.state.save_validators(listing, entry.etag, entry.last_modified)
            del self._listings[listing]
