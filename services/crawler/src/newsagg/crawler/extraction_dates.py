"""Published and modified dates of a page, timezone-aware, from the most exact source first.

Order: the article's JSON-LD, then meta tags and <time itemprop>, then htmldate's
day (which it finds in the URL and the visible text), asked only when the markup is
silent. htmldate gives days only, so markup with a time wins. The crawl time is never a
publish date, and a date after the crawl is a template's clock or a typo, not a publish date.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from dateutil import parser as dateutil_parser
from htmldate import find_date
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


def _meta_dates(meta: Mapping[str, list[str]], names: tuple[str, ...]) -> datetime | None:
    for name in names:
        for value in meta.get(name.lower(), ()):
            if parsed := parse_datetime(value):
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
    crawled_at: datetime,
    url: str | None = None,
    listed: bool = False,
    meta: Mapping[str, list[str]] | None = None,
) -> tuple[datetime | None, datetime | None]:
    """(published, modified); modified only when it is later than published.

    htmldate (the URL and the page's other markup, then, unless the page was `listed`
    with a date by its feed or sitemap, its visible text) only when JSON-LD, meta
    tags and <time itemprop> state no publish date: its extensive search of the text
    builds dateparser patterns per locale and costs more than the rest of the page.
    `meta` is `meta_tags(tree)` when the caller has it already.
    """
    meta = meta_tags(tree) if meta is None else meta
    published = _first_past(
        crawled_at,
        lambda: parse_datetime(json_ld[0]),
        lambda: _meta_dates(meta, _PUBLISHED_META),
        lambda: _time_itemprop(tree, "datePublished"),
        lambda: parse_datetime(_htmldate(tree, url, crawled_at, extensive=False)),
        lambda: (
            None if listed else parse_datetime(_htmldate(tree, url, crawled_at, extensive=True))
        ),
    )
    modified = _first_past(
        crawled_at,
        lambda: parse_datetime(json_ld[1]),
        lambda: _meta_dates(meta, _MODIFIED_META),
        lambda: _time_itemprop(tree, "dateModified"),
    )
    if modified and (not published or modified <= published):
        modified = None
    return published, modified


def _htmldate(
    tree: lxml_html.HtmlElement, url: str | None, crawled_at: datetime, *, extensive: bool
) -> str | None:
    """htmldate's original publication day (YYYY-MM-DD), never later than the crawl."""
    return find_date(
        tree,
        url=url,
        original_date=True,
        extensive_search=extensive,
        max_date=crawled_at.strftime("%Y-%m-%d"),
    )


def _first_past(crawled_at: datetime, *sources: Callable[[], datetime | None]) -> datetime | None:
    """The first date a source gives that is not after the crawl (a later one is a clock)."""
    for source in sources:
        found = source()
        if found is not None and EARLIEST <= found <= crawled_at:
            return found
    return None
