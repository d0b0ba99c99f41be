"""Articles published at chosen hours before a given now, for the spike rule on the API and
the page: one query with a burst in the last 24 hours, one steady."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count

from newsagg.core.alerts.spikes import BASELINE_DAYS
from newsagg.core.article import Article, DateSource

PER_DAY = 2
"""Articles a day on both topics over the baseline: a daily mean of 2, a threshold of 7."""
BURST = 20
"""`ferry` articles in the last 24 hours (`harbour` has PER_DAY)."""
SPIKING, STEADY = "ferry", "harbour"
_serial = count()


def _article(published: datetime, topic: str) -> Article:
    n = next(_serial)
    return Article.create(
        url=f"https://spikes.example/{n}",
        source="spikes-daily",
        title=f"The {topic} council, part {n}",
        text=f"The {topic} council met on day {n}.",
        crawled_at=published,
        published_at=published,
        date_source=DateSource.META,
    )


def spike_articles(now: datetime) -> list[Article]:
    """Both topics at PER_DAY a day over the 14 days before the last 24 hours (each at
    midday of its day, so the hour turning while a test runs moves none across the
    windows' edges); BURST on SPIKING and PER_DAY on STEADY in the last 24 hours; and one
    older article on neither, so the index has the whole 14 days of history."""
    recent_start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    baseline = [
        _article(recent_start - timedelta(days=day, hours=-12, minutes=10 * k), topic)
        for day in range(1, BASELINE_DAYS + 1)
        for k in range(PER_DAY)
        for topic in (SPIKING, STEADY)
    ]
    recent = [_article(now - timedelta(hours=k % 20, minutes=5), SPIKING) for k in range(BURST)]
    recent += [_article(now - timedelta(hours=k + 1), STEADY) for k in range(PER_DAY)]
    return [*baseline, *recent, _article(now - timedelta(days=40), "election")]
