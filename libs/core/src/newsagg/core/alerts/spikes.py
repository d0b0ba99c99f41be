"""Spikes: when a saved search's coverage of the last 24 hours is far above its usual level.

The counts are the store's own (`SearchStore.timeline` by hour of publication), so a spike
is measured on the same articles the search finds; articles without a publication date are
not counted. The baseline is the 14 days before the last 24 hours. An index younger than
that has a shorter baseline (from the hour of its first article), and one with less than
a day of history has none: a new index, where everything is new, raises no spike.

The rule (RULE) needs both a floor and a statistical margin: a factor alone fires on tiny
numbers (1 -> 3 articles), a Poisson bound alone fires on a quiet baseline (a mean of 0.1 a
day makes 2 articles "significant").
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from newsagg.core.ports import SearchStore
from newsagg.core.search import Collapse, Interval, SearchQuery, TimeBucket
from pydantic import BaseModel, ConfigDict, Field

BASELINE_DAYS = 14
RECENT_HOURS = 24
MIN_COUNT = 5
"""No spike below this many articles in the last 24 hours, whatever the baseline."""
FACTOR = 3.0
"""The last 24 hours must hold at least this many times the baseline's daily mean..."""
SIGMAS = 3.0
"""...and more than the mean plus this many standard deviations of a Poisson count."""
MIN_HISTORY_HOURS = 24
"""Below this much history in the index there is no baseline, and so no spike."""

HOUR = timedelta(hours=1)
RULE = (
    f"A spike when the last {RECENT_HOURS} hours hold at least max({MIN_COUNT}, "
    f"{FACTOR:g} x the baseline's daily mean) matching articles and more than that mean "
    f"+ {SIGMAS:g} x its square root (a Poisson upper bound); the baseline is the "
    f"{BASELINE_DAYS} days before the last {RECENT_HOURS} hours (from the index's first "
    f"article if it is younger; no spike with less than {MIN_HISTORY_HOURS} hours of it)."
)


class SpikeReport(BaseModel):
    """One saved search's last 24 hours against its baseline, and whether that is a spike."""

    model_config = ConfigDict(frozen=True)

    now: datetime
    baseline_start: datetime
    recent_start: datetime = Field(description="Start of the last 24 hours (an hour's start).")
    hours: list[TimeBucket] = Field(
        description="Matching articles per hour of publication from baseline_start to now, "
        "zeros included."
    )
    baseline_hours: int = Field(description="Hours of history the baseline stands on (<= 336).")
    baseline_hourly_mean: float
    baseline_daily_mean: float
    last_24h: int
    threshold: int | None = Field(
        description="The fewest articles in the last 24 hours that make a spike; None "
        "without a baseline."
    )
    spike: bool
    rule: str = RULE


def threshold_for(daily_mean: float) -> int:
    """The smallest 24-hour count that is a spike against this daily mean."""
    poisson = math.floor(daily_mean + SIGMAS * math.sqrt(daily_mean)) + 1  # strictly above
    return max(MIN_COUNT, math.ceil(FACTOR * daily_mean), poisson)


def _hour_start(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _windows(now: datetime) -> tuple[datetime, datetime]:
    """The baseline's start and the last 24 hours' start (the current hour is the last)."""
    recent_start = _hour_start(now) - (RECENT_HOURS - 1) * HOUR
    return recent_start - timedelta(days=BASELINE_DAYS), recent_start


def _between(query: SearchQuery, start: datetime, now: datetime) -> SearchQuery:
    """The query restricted to [start, now] (inside its own date filters, if any)."""
    begin = max(start, query.published_from) if query.published_from else start
    end = min(now, query.published_to) if query.published_to else now
    return query.model_copy(
        update={
            "published_from": begin,
            "published_to": end,
            "collapse": Collapse.NONE,
            "size": 0,
            "offset": 0,
            "after": None,
            "facets": (),
        }
    )


def history_hours(store: SearchStore, now: datetime) -> int:
    """Hours of the baseline window the index has history for: all of them when it holds
    an article published before the window, else from the hour of its first one.

    It does not depend on the query: a sweep over many saved searches asks it once and
    passes it to spike_report.
    """
    now = now.astimezone(UTC)
    baseline_start, recent_start = _windows(now)
    older = SearchQuery(published_to=baseline_start - timedelta(microseconds=1), size=0, facets=())
    if store.search(older).total:
        return BASELINE_DAYS * 24
    buckets = store.timeline(_between(SearchQuery(), baseline_start, now), Interval.HOUR)
    first = min((b.start for b in buckets if b.start < recent_start), default=None)
    return 0 if first is None else int((recent_start - first) / HOUR)


def spike_report(
    store: SearchStore, query: SearchQuery, now: datetime, *, history: int | None = None
) -> SpikeReport:
    """The query's hourly counts over the baseline and the last 24 hours, and the verdict.

    `history` is history_hours(store, now) when the caller already has it.
    """
    now = now.astimezone(UTC)
    baseline_start, recent_start = _windows(now)
    counts = {
        bucket.start: bucket.count
        for bucket in store.timeline(_between(query, baseline_start, now), Interval.HOUR)
    }
    hours = []
    start = baseline_start
    while start <= now:
        hours.append(TimeBucket(start=start, count=counts.get(start, 0)))
        start += HOUR
    last_24h = sum(b.count for b in hours if b.start >= recent_start)
    covered = history_hours(store, now) if history is None else history
    covered = min(covered, BASELINE_DAYS * 24)
    baseline = sum(b.count for b in hours[-RECENT_HOURS - covered : -RECENT_HOURS])
    hourly = baseline / covered if covered else 0.0
    threshold = threshold_for(hourly * 24) if covered >= MIN_HISTORY_HOURS else None
    return SpikeReport(
        now=now,
        baseline_start=baseline_start,
        recent_start=recent_start,
        hours=hours,
        baseline_hours=covered,
        baseline_hourly_mean=hourly,
        baseline_daily_mean=hourly * 24,
        last_24h=last_24h,
        threshold=threshold,
        spike=threshold is not None and last_24h >= threshold,
    )
