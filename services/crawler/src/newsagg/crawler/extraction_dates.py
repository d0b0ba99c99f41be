"""Published and modified dates of a page, timezone-aware, from the most exact source first.

Order: the article's JSON-LD, then meta tags and <time itemprop>, then htmldate's
day (which it finds in the URL and the visible text). htmldate gives days only, so markup
with a time wins. The crawl time is never a publish date, and a date after the
crawl is a template's clock or a typo, not a publish date.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from dateutil import parser as dateutil_parser
from lxml import html as lxml_html

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
_LOWER = "translate({}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
_META_XPATH = (
    f"//meta[{_LOWER.format('@property')} = $n or {_LOWER.format('@name')} = $n"
    " or @itemprop = $raw]/@content"
)
_YEAR = re.compile(r"(?<!\d)(19|20)\d\d(?!\d)")
logging.getLogger("htmldate").setLevel(logging.ERROR)


def parse_datetime(value: Any) -> datetime | None:
    """ISO 8601, RFC 822 or a plain written date to an aware UTC datetime; None if unreadable.

    A time without a zone is taken as UTC: the page does not say, and a guess of
    the server's zone would be no better.
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
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _meta_dates(tree: lxml_html.HtmlElement, names: tuple[str, ...]) -> datetime | None:
    for name in names:
        for value in tree.xpath(_META_XPATH, n=name.lower(), raw=name):
            if parsed := parse_datetime(str(value)):
                return parsed
    return None


def _time_itemprop(tree: lxml_html.HtmlElement, prop: str) -> datetime | None:
    for value in tree.xpath("//*[@itemprop = $p]/@datetime", p=prop):
        if parsed := parse_datetime(str(value)):
            return parsed
    return None


def page_dates(
    tree: lxml_html.HtmlElement,
    *,
    json_ld: tuple[str | None, str | None] = (None, None),
    day: str | None = None,
    crawled_at: datetime,
) -> tuple[datetime | None, datetime | None]:
    """(published, modified); modified only when it is later than published.

    `day` is htmldate's finding (from the URL and the text, via trafilatura's
    metadata), used when the markup states no date.
    """
    published = _first_past(
        crawled_at,
        lambda: parse_datetime(json_ld[0]),
        lambda: _meta_dates(tree, _PUBLISHED_META),
        lambda: _time_itemprop(tree, "datePublished"),
        lambda: parse_datetime(day),
    )
    modified = _first_past(
        crawled_at,
        lambda: parse_datetime(json_ld[1]),
        lambda: _meta_dates(tree, _MODIFIED_META),
        lambda: _time_itemprop(tree, "dateModified"),
    )
    if modified and (not published or modified <= published):
        modified = None
    return published, modified


def _first_past(crawled_at: datetime, *sources: Callable[[], datetime | None]) -> datetime | None:
    """The first date a source gives that is not after the crawl (a later one is a clock)."""
    for source in sources:
        found = source()
        if found is not None and EARLIEST <= found <= crawled_at:
            return found
    return None
