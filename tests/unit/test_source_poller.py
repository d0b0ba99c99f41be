"""When the polling crawler crawls a source: every interval from the start of a pass, and
at once when WebSub says the feed changed (issue 16). Scrapy's process and the reactor's
clock are stood in for; the passes are Deferreds the test fires."""

from __future__ import annotations

from typing import Any

from newsagg.core.sources import Source
from newsagg.crawler.runner import SourcePoller
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock


class Process:
    """What SourcePoller asks of a CrawlerProcess: a crawler, then its crawl as a Deferred."""

    def __init__(self) -> None:
        self.passes: list[Deferred[None]] = []
        self.watched: list[object] = []

    def create_crawler(self, spider: Any) -> object:
        return object()

    def crawl(self, crawler: object, **kwargs: Any) -> Deferred[None]:
        self.passes.append(Deferred())
        return self.passes[-1]


def poller() -> tuple[Process, Clock, SourcePoller]:
    process, clock = Process(), Clock()
    source = Source(name="s", feeds=["https://s.example/feed.xml"], interval=60)
    found = SourcePoller(process, source, state=None, max_age_days=0, clock=clock)  # type: ignore[arg-type]
    found.watch = process.watched.append
    return process, clock, found


def test_the_next_pass_is_an_interval_after_the_start_of_the_last():
    process, clock, polling = poller()
    polling.now()
    clock.advance(15)  # the pass takes 15 s
    process.passes[0].callback(None)
    clock.advance(44.9)
    assert len(process.passes) == 1
    clock.advance(0.1)
    assert len(process.passes) == 2
    assert len(process.watched) == 2  # each pass's crawler is shown to WebSub


def test_a_pass_longer_than_the_interval_is_followed_at_once():
    process, clock, polling = poller()
    polling.now()
    clock.advance(90)
    process.passes[0].callback(None)
    clock.advance(0)
    assert len(process.passes) == 2


def test_told_between_passes_it_crawls_at_once_and_keeps_the_rhythm():
    process, clock, polling = poller()
    polling.now()
    process.passes[0].callback(None)
    clock.advance(10)
    polling.now()
    assert len(process.passes) == 2
    process.passes[1].callback(None)
    clock.advance(59)
    assert len(process.passes) == 2  # the waiting poll was replaced, not added to
    clock.advance(1)
    assert len(process.passes) == 3


def test_told_during_a_pass_it_crawls_again_right_after():
    process, clock, polling = poller()
    polling.now()
    polling.now()
    polling.now()
    assert len(process.passes) == 1  # the running pass is not doubled
    process.passes[0].callback(None)
    clock.advance(0)
    assert len(process.passes) == 2  # the feed may have changed after it was read
    process.passes[1].callback(None)
    clock.advance(0)
    assert len(process.passes) == 2
