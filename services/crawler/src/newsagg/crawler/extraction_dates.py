"""Published and modified dates of a page, timezone-aware, each with where it came from.

Order: the article's JSON-LD, then meta tags and <time itemprop> (source `meta`), then a
day in the URL (`url`), then htmldate's search of the other markup and, unless the page
was listed with a date by its feed or sitemap, of the visible text (`htmldate`); when the
page states nothing, the listing's date (`feed` / `sitemap`). htmldate is asked only when
the markup is silent: its text search builds dateparser patterns per locale and costs
more than the rest of the page.

Confidence (0..1) is how far a reader can trust the date, by its source: JSON-LD 0.9,
meta 0.85, the feed's pubDate 0.7, a sitemap's publication date 0.6, the URL's day 0.6,
htmldate's fast search (other markup, dates written as numbers) 0.5, its extensive
search of the visible text 0.3. A page date without a zone (a day, or a time read as
UTC) is 0.1 lower: it can be hours off. A listing date within a day of the page's raises
it by 0.1 (at most 0.95: nothing here is checked against the world); one more than a day
away halves it, with a note.

Refused, with a note, falling back to the next source: a date before 1990 (a placeholder
such as 0001-01-01) and a date after the crawl beyond the clock-skew allowance. The
allowance is 10 minutes for a time with its zone (servers' clocks drift; a feed written
a moment before our clock read it), and 14 hours more for a day or a zone-less time: read
as UTC, a time written in UTC+14 (the furthest zone ahead) is 14 hours later than it
happened. The crawl time is never a publication date.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from dateutil import parser as dateutil_parser
from htmldate import find_date
from htmldate.extractors import extract_url_date
from htmldate.utils import Extractor
from lxml import html as lxml_html
from newsagg.core.article import DateSource

_PUBLISHED_META = (
    "article:published_time",
    "og:published_time",
    "datePublished",
    "pubdate",
    "publishdate",
    "publish-date",
    "date",
    "dc.date.issued",
    "dc.date",
    "dcterms.created",
    "sailthru.date",
    "parsely-pub-date",
)
_MODIFIED_META = (
    "article:modified_time",
    "og:updated_time",
    "dateModified",
    "last-modified",
    "dcterms.modified",
)
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
"""Before the web: a placeholder such as 0001-01-01, not a publish date."""
CLOCK_SKEW = timedelta(minutes=10)
"""How far after the crawl a time with its zone may be: clocks drift."""
ZONE_AHEAD = timedelta(hours=14)
"""UTC+14: how much later than it happened a local time read as UTC can be."""
LISTING_AGREES = timedelta(days=1)
"""The page's and the listing's dates further apart than this disagree."""
_ZONES = {
    name: timezone(timedelta(hours=hours), name)
    for name, hours in {
        "GMT": 0,
        "UTC": 0,
        "Z": 0,
        "BST": 1,
        "CET": 1,
        "CEST": 2,
        "EET": 2,
        "EEST": 3,
        "EST": -5,
        "EDT": -4,
        "CST": -6,
        "CDT": -5,
        "MST": -7,
        "MDT": -6,
        "PST": -8,
        "PDT": -7,
    }.items()
}
"""Zone abbreviations that mean one offset in news bylines (IST, for one, does not)."""
_YEAR = re.compile(r"(?<!\d)(19|20)\d\d(?!\d)")
logging.getLogger("htmldate").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Stamp:
    """A date as a source states it; `zoned` when it names its zone (a day never does)."""

    when: datetime
    zoned: bool


@dataclass(frozen=True)
class PageDates:
    """The publication date with its provenance, the modification date, and what was refused."""

    published: datetime | None = None
    source: DateSource | None = None
    confidence: float | None = None
    modified: datetime | None = None
    notes: tuple[str, ...] = ()


CONFIDENCE = {
    DateSource.JSON_LD: 0.9,
    DateSource.META: 0.85,
    DateSource.FEED: 0.7,
    DateSource.SITEMAP: 0.6,
    DateSource.URL: 0.6,
    DateSource.HTMLDATE: 0.5,
}
"""By source, for a date with its zone; see the module docstring."""
HTMLDATE_TEXT = 0.3
"""htmldate's search of the visible text: the first date-like words it trusts."""
UNZONED = 0.1
"""Less for a day or a zone-less time: it can be hours off."""
AGREES = 0.1
DISAGREES = 0.5
HIGHEST = 0.95
_URL_OPTIONS = Extractor(
    extensive=False,
    max=datetime(2039, 12, 31),
    min=datetime(1990, 1, 1),
    original=True,
    format="%Y-%m-%d",
)
"""Every day htmldate's URL pattern reads (1990-2039): this module refuses a future one
and says why, not htmldate."""
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_URL_NAMED_MONTH = re.compile(
    r"/((?:19|20)\d\d)/(" + "|".join(_MONTHS) + r")/(\d{1,2})(?:/|$)", re.IGNORECASE
)


def parse_stamp(value: Any) -> Stamp | None:
    """ISO 8601, RFC 822 or a plain written date, as an aware UTC datetime; None if unreadable.

    A time without a zone is taken as UTC (`zoned` False): the page does not say, and a
    guess of the server's zone would be no better.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        if not _YEAR.search(text):
            return None  # dateutil would fill in today's date: that is the crawl date
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", dateutil_parser.UnknownTimezoneWarning)
                parsed = dateutil_parser.parse(text, tzinfos=_ZONES)
        except (ValueError, OverflowError):
            return None
    zoned = parsed.tzinfo is not None
    if not zoned:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return Stamp(parsed.astimezone(UTC), zoned)
    except (OverflowError, ValueError):
        return None


def parse_datetime(value: Any) -> datetime | None:
    """`parse_stamp`'s date alone (listings: their dates are compared, not weighed)."""
    stamp = parse_stamp(value)
    return None if stamp is None else stamp.when


def meta_tags(tree: lxml_html.HtmlElement) -> dict[str, list[str]]:
    """Every <meta> content by its property, name and itemprop (lower case), in page order:
    one walk over the page instead of an XPath search of the whole tree per name."""
    found: dict[str, list[str]] = {}
    for element in tree.iter("meta"):
        content = element.get("content")
        if content is None:
            continue
        for attribute in ("property", "name", "itemprop"):
            if key := element.get(attribute):
                found.setdefault(key.strip().lower(), []).append(content)
    return found


def _meta_dates(meta: Mapping[str, list[str]], names: tuple[str, ...]) -> Stamp | None:
    for name in names:
        for value in meta.get(name.lower(), ()):
            if parsed := parse_stamp(value):
                return parsed
    return None


def _time_itemprop(tree: lxml_html.HtmlElement, prop: str) -> Stamp | None:
    for value in tree.xpath("//*[@itemprop = $p]/@datetime", p=prop):
        if parsed := parse_stamp(str(value)):
            return parsed
    return None


def url_date(url: str | None) -> Stamp | None:
    """The day a URL states: numbers (/2024/05/01/, 2024-05-01) by htmldate's URL pattern,
    or a month's English abbreviation (/2019/nov/18/, as the Guardian and PolitiFact write)."""
    if url and (named := _URL_NAMED_MONTH.search(url)):
        year, month, day = named.groups()
        try:
            return Stamp(
                datetime(int(year), _MONTHS.index(month.lower()) + 1, int(day), tzinfo=UTC), False
            )
        except ValueError:
            return None
    return parse_stamp(extract_url_date(url, _URL_OPTIONS))


def refusal(stamp: Stamp, crawled_at: datetime) -> str | None:
    """Why `stamp` cannot be a publication date (None: it can): before 1990, or after the
    crawl beyond the clock-skew allowance (wider for a day or a zone-less time)."""
    if stamp.when < EARLIEST:
        return "before 1990, a placeholder"
    allowance = CLOCK_SKEW if stamp.zoned else CLOCK_SKEW + ZONE_AHEAD
    if stamp.when > crawled_at + allowance:
        ahead = (stamp.when - crawled_at) / timedelta(hours=1)
        return f"{ahead:.1f} h after the crawl, beyond the {_hours(allowance)} allowance"
    return None


def _hours(delta: timedelta) -> str:
    minutes = round(delta / timedelta(minutes=1))
    return f"{minutes} min" if minutes < 60 else f"{minutes / 60:g} h"


def _day(when: datetime) -> str:
    return f"{when.year:04d}-{when:%m-%d %H:%M} UTC"  # %Y gives year 1 as "1"


def page_dates(
    tree: lxml_html.HtmlElement,
    *,
    json_ld: tuple[str | None, str | None] = (None, None),
    crawled_at: datetime,
    url: str | None = None,
    listed_at: datetime | None = None,
    listed_in: DateSource = DateSource.FEED,
    meta: Mapping[str, list[str]] | None = None,
) -> PageDates:
    """The publication date from the first source that gives a usable one, its confidence
    and notes; the modification date only when it is later than the publication.

    `listed_at` is the date the page's feed or sitemap (`listed_in`) gave it: used when
    the page states none, compared when it does. `meta` is `meta_tags(tree)` when the
    caller has it already.
    """
    meta = meta_tags(tree) if meta is None else meta
    notes: list[str] = []
    # A listing's date comes parsed (discovery.py), its zone not kept: the wide allowance.
    listed = None if listed_at is None else Stamp(listed_at, zoned=False)
    if listed is not None and (why := refusal(listed, crawled_at)):
        notes.append(f"refused the {listed_in} date {_day(listed.when)}: {why}")
        listed = None
    sources: list[tuple[DateSource, float, Callable[[], Stamp | None]]] = [
        (DateSource.JSON_LD, CONFIDENCE[DateSource.JSON_LD], lambda: parse_stamp(json_ld[0])),
        (DateSource.META, CONFIDENCE[DateSource.META], lambda: _meta_dates(meta, _PUBLISHED_META)),
        (
            DateSource.META,
            CONFIDENCE[DateSource.META],
            lambda: _time_itemprop(tree, "datePublished"),
        ),
        (DateSource.URL, CONFIDENCE[DateSource.URL], lambda: url_date(url)),
        (
            DateSource.HTMLDATE,
            CONFIDENCE[DateSource.HTMLDATE],
            lambda: parse_stamp(_htmldate(tree, crawled_at, extensive=False)),
        ),
    ]
    if listed is not None:
        sources.append((listed_in, CONFIDENCE[listed_in], lambda: listed))
    else:
        sources.append(
            (
                DateSource.HTMLDATE,
                HTMLDATE_TEXT,
                lambda: parse_stamp(_htmldate(tree, crawled_at, extensive=True)),
            )
        )
    found = _first_usable(sources, crawled_at, notes)
    modified = _first_usable(
        [
            (DateSource.JSON_LD, 0.0, lambda: parse_stamp(json_ld[1])),
            (DateSource.META, 0.0, lambda: _meta_dates(meta, _MODIFIED_META)),
            (DateSource.META, 0.0, lambda: _time_itemprop(tree, "dateModified")),
        ],
        crawled_at,
        [],
    )
    if found is None:
        return PageDates(notes=tuple(notes))
    source, confidence, stamp = found
    published = stamp.when
    if not stamp.zoned and source not in (DateSource.FEED, DateSource.SITEMAP):
        confidence -= UNZONED
    if listed is not None and source != listed_in:
        if abs(published - listed.when) > LISTING_AGREES:
            days = abs(published - listed.when) / timedelta(days=1)
            notes.append(
                f"the page's date {_day(published)} ({source}) and the {listed_in} date "
                f"{_day(listed.when)} differ by {days:.1f} days"
            )
            confidence *= DISAGREES
        else:
            confidence = min(HIGHEST, confidence + AGREES)
    later = modified[2].when if modified and modified[2].when > published else None
    return PageDates(published, source, round(confidence, 2), later, tuple(notes))


def _htmldate(tree: lxml_html.HtmlElement, crawled_at: datetime, *, extensive: bool) -> str | None:
    """htmldate's original publication day (YYYY-MM-DD) in the markup (or also the visible
    text, `extensive`), never in the URL (its own source here), never after the crawl's
    day in the zone furthest ahead."""
    return find_date(
        tree,
        url="",  # not None: htmldate would read the URL of the page's canonical link
        original_date=True,
        extensive_search=extensive,
        max_date=(crawled_at + ZONE_AHEAD).strftime("%Y-%m-%d"),
    )


def _first_usable(
    sources: Sequence[tuple[DateSource, float, Callable[[], Stamp | None]]],
    crawled_at: datetime,
    notes: list[str],
) -> tuple[DateSource, float, Stamp] | None:
    """The first source's date that can be a publication date; a refused one in `notes`.

    htmldate reads the same JSON-LD and meta tags: its day of a date refused before is
    that date again, refused too.
    """
    refused: set[date] = set()
    for source, confidence, read in sources:
        stamp = read()
        if stamp is None:
            continue
        if why := refusal(stamp, crawled_at):
            notes.append(f"refused the {source} date {_day(stamp.when)}: {why}")
            refused.add(stamp.when.date())
            continue
        if source is DateSource.HTMLDATE and stamp.when.date() in refused:
            note = f"refused the htmldate day {stamp.when.date()}: a refused date's day"
            notes.extend([] if note in notes else [note])
            continue
        return source, confidence, stamp
    return None
