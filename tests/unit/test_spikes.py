"""The spike rule on real stores (tantivy; Elasticsearch, `jvm`): articles published at
chosen hours, counted by the store's own timeline, judged against RULE."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest
from newsagg.core.alerts.spikes import (
    BASELINE_DAYS,
    MIN_COUNT,
    history_hours,
    spike_report,
    threshold_for,
)
from newsagg.core.article import Article, DateSource
from newsagg.core.ports import SearchStore
from newsagg.core.query import parse_query
from newsagg.core.search import SearchQuery
from support.stores import STORE_ADAPTERS, store_pair

NOW = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)
RECENT_START = datetime(2026, 11, 19, 13, tzinfo=UTC)  # the last 24 hours: 13:00 to now
HARBOUR = SearchQuery(query=parse_query("harbour"))
_serial = count()


def _article(published: datetime, topic: str = "harbour") -> Article:
    n = next(_serial)
    return Article.create(
        url=f"https://spikes.example/{n}",
        source="spikes-daily",
        title=f"News {n}",
        text=f"The {topic} council met on day {n}.",
        crawled_at=NOW,
        published_at=published,
        date_source=DateSource.META,
    )


def _daily(days: int, per_day: int, topic: str = "harbour") -> list[Article]:
    """`per_day` articles a day, spread over each of the `days` days before the last 24
    hours; the first in the first hour of those days."""
    return [
        _article(
            RECENT_START - timedelta(days=day + 1, minutes=-10) + k * timedelta(days=1) / per_day,
            topic,
        )
        for day in range(days)
        for k in range(per_day)
    ]


def _last_day(n: int, topic: str = "harbour") -> list[Article]:
    return [_article(NOW - timedelta(hours=(k % 23), minutes=10), topic) for k in range(n)]


@pytest.fixture(params=STORE_ADAPTERS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SearchStore]:
    pair = store_pair(request.param, tmp_path, request, "test-spikes")
    yield pair.writer
    pair.close()


def test_a_steady_baseline_is_no_spike(store: SearchStore):
    store.upsert(_daily(BASELINE_DAYS, 2) + _last_day(2))

    report = spike_report(store, HARBOUR, NOW)

    assert report.baseline_hours == BASELINE_DAYS * 24
    assert report.baseline_daily_mean == pytest.approx(2.0)
    assert report.last_24h == 2
    assert report.threshold == 7  # 3 x 2 = 6, and 2 + 3 x sqrt(2) = 6.24: above it is 7
    assert not report.spike


def test_a_burst_over_the_baseline_is_a_spike(store: SearchStore):
    store.upsert(_daily(BASELINE_DAYS, 2) + _last_day(6))
    assert not spike_report(store, HARBOUR, NOW).spike

    store.upsert(_last_day(1))
    report = spike_report(store, HARBOUR, NOW)

    assert report.last_24h == 7
    assert report.spike
    assert sum(b.count for b in report.hours) == BASELINE_DAYS * 2 + 7
    assert len(report.hours) == (BASELINE_DAYS + 1) * 24


def test_a_burst_below_the_floor_is_no_spike_on_a_quiet_baseline(store: SearchStore):
    """The index has history (other news), the search matched nothing in it: 4 is no spike."""
    store.upsert(_daily(BASELINE_DAYS, 2, topic="election") + _last_day(MIN_COUNT - 1))
    report = spike_report(store, HARBOUR, NOW)

    assert report.baseline_daily_mean == 0
    assert report.threshold == MIN_COUNT
    assert report.last_24h == MIN_COUNT - 1
    assert not report.spike

    store.upsert(_last_day(1))
    assert spike_report(store, HARBOUR, NOW).spike


def test_other_articles_do_not_count(store: SearchStore):
    store.upsert(_daily(BASELINE_DAYS, 2) + _last_day(30, topic="election"))

    report = spike_report(store, HARBOUR, NOW)

    assert report.last_24h == 0
    assert not report.spike
    assert spike_report(store, SearchQuery(query=parse_query("election")), NOW).spike


def test_an_empty_history_is_no_spike(store: SearchStore):
    empty = spike_report(store, HARBOUR, NOW)
    assert (empty.last_24h, empty.baseline_hours, empty.threshold, empty.spike) == (
        0,
        0,
        None,
        False,
    )

    store.upsert(_last_day(40))  # all the index holds is today's: no baseline to compare with
    report = spike_report(store, HARBOUR, NOW)

    assert report.last_24h == 40
    assert report.baseline_hours == 0
    assert report.threshold is None
    assert not report.spike


def test_a_young_index_has_a_baseline_as_long_as_its_history(store: SearchStore):
    """Three days at 2 a day is a mean of 2 a day, not 6/14: 6 today is no spike."""
    store.upsert(_daily(3, 2) + _last_day(6))

    report = spike_report(store, HARBOUR, NOW)

    assert report.baseline_hours == 3 * 24
    assert report.baseline_daily_mean == pytest.approx(2.0)
    assert not report.spike


def test_history_older_than_the_window_gives_the_whole_baseline(store: SearchStore):
    store.upsert([_article(NOW - timedelta(days=40), topic="election")])
    assert history_hours(store, NOW) == BASELINE_DAYS * 24


def test_the_threshold_needs_both_the_factor_and_the_poisson_bound():
    assert threshold_for(0) == MIN_COUNT
    assert threshold_for(1) == MIN_COUNT  # 3 x 1 and 1 + 3 = 4 are under the floor
    assert threshold_for(1.5) == 6  # 1.5 + 3 x 1.22 = 5.17: the Poisson bound decides
    assert threshold_for(10) == 30  # 3 x 10 = 30 beats 10 + 3 x 3.16
