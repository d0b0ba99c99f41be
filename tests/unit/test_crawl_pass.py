"""A listing's validators are kept only once every page it listed is done."""

from __future__ import annotations

from pathlib import Path

import pytest
from newsagg.crawler.crawl_pass import CrawlPass
from newsagg.crawler.state import CrawlState

FEED, SITEMAP = "https://s.example/feed.xml", "https://s.example/sitemap.xml"
A, B = "https://s.example/a", "https://s.example/b"


@pytest.fixture
def state(tmp_path: Path) -> CrawlState:
    return CrawlState(tmp_path / "state.sqlite")


def read(progress: CrawlPass, listing: str, *pages: str) -> list[str]:
    """The spider's part: the listing came in full (200) and named these pages."""
    progress.listing_read(listing, f'"{listing}"', None)
    wanted = [page for page in pages if progress.wants(page, None, listing)]
    progress.listing_parsed(listing)
    return wanted


def test_validators_wait_for_every_page_and_old_ones_are_forgotten(state: CrawlState):
    state.save_validators(FEED, '"old"', None)
    progress = CrawlPass(state)
    assert read(progress, FEED, A, B) == [A, B]
    assert state.validators(FEED) == (None, None)  # the old promise no longer holds
    progress.page_published(A, "hash-a", "id-a")
    assert state.validators(FEED) == (None, None)
    progress.page_failed(B)
    assert state.validators(FEED) == (f'"{FEED}"', None)


def test_a_page_two_listings_share_keeps_both_waiting(state: CrawlState):
    progress = CrawlPass(state)
    assert read(progress, FEED, A) == [A]
    assert read(progress, SITEMAP, A, B) == [B]  # A is already queued by the feed
    progress.page_published(B, "hash-b", "id-b")
    assert state.validators(SITEMAP) == (None, None)  # still waits for A
    progress.page_published(A, "hash-a", "id-a")
    assert state.validators(FEED) == (f'"{FEED}"', None)
    assert state.validators(SITEMAP) == (f'"{SITEMAP}"', None)


def test_an_interrupted_pass_keeps_no_validators(state: CrawlState, tmp_path: Path):
    progress = CrawlPass(state)
    read(progress, FEED, A, B)
    progress.page_published(A, "hash-a", "id-a")
    state.close()  # the crawler dies with B unfetched (or B failed for now)
    again = CrawlPass(CrawlState(tmp_path / "state.sqlite"))
    assert again.validators(FEED) == (None, None)  # so the next pass reads it in full
    assert read(again, FEED, A, B) == [B]


def test_a_listing_of_known_pages_is_complete_at_once(state: CrawlState):
    CrawlPass(state).page_published(A, "hash-a", "id-a")
    progress = CrawlPass(state)
    assert read(progress, FEED, A) == []
    assert state.validators(FEED) == (f'"{FEED}"', None)
