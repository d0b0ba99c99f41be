"""The query and filters every search-like endpoint shares (search, stories, timeline, RSS,
export)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import Depends, Query
from fastapi.exceptions import RequestValidationError
from newsagg.core.article import DateSource, Quality
from newsagg.core.query import parse_query
from newsagg.core.search import NO_DATE, SearchQuery

DEMO_SOURCE = "marquee-daily"
DATE_SOURCES = (*(source.value for source in DateSource), NO_DATE)
"""What `date_source` takes: where a publication date came from, or `none` for no date."""


@dataclass(frozen=True)
class Filters:
    """The query as the client typed it, and as the stores take it."""

    text: str | None
    query: SearchQuery


def invalid(name: str, message: str) -> RequestValidationError:
    """A 422 naming the parameter, like FastAPI's own validation errors."""
    return RequestValidationError([{"loc": ("query", name), "msg": message, "type": "value_error"}])


def parse_bound(value: str | None, name: str, *, end: bool) -> datetime | None:
    """ISO date or datetime; a bare date as `to` means the whole of that day (UTC)."""
    if value is None or not value.strip():
        return None
    try:
        if len(value.strip()) == 10:
            day = date.fromisoformat(value.strip())
            start = datetime.combine(day, time.min, UTC)
            return start + timedelta(days=1) - timedelta(microseconds=1) if end else start
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except ValueError as exc:
        raise invalid(name, f"not an ISO date or datetime: {value!r}") from exc
    except OverflowError as exc:
        raise invalid(name, f"out of range: {value!r}") from exc


def parse_date_sources(values: list[str]) -> tuple[str, ...]:
    """`date_source` repeated, comma-separated, or both; an unknown value is a 422 that
    lists the known ones (a typo must not look like an empty result)."""
    names = tuple(
        dict.fromkeys(n.strip().lower() for value in values for n in value.split(",") if n.strip())
    )
    unknown = [name for name in names if name not in DATE_SOURCES]
    if unknown:
        raise invalid(
            "date_source", f"unknown date source {unknown[0]!r}: use {', '.join(DATE_SOURCES)}"
        )
    return names


async def search_filters(
    q: Annotated[
        str | None,
        Query(
            description='Words (all must match), "exact phrases", -excluded words, OR between '
            "alternatives, parentheses, and title:/author:/source: fields. Leave it out to "
            "match every article.",
            examples=["Milind Soman cycling"],
        ),
    ] = None,
    sources: Annotated[
        list[str],
        Query(description="Only these sources (repeatable).", examples=[[DEMO_SOURCE]]),
    ] = [],  # noqa: B006
    source: Annotated[
        list[str],
        Query(description="Alias of `sources`, kept for existing clients (repeatable)."),
    ] = [],  # noqa: B006
    exclude_sources: Annotated[
        list[str],
        Query(description="Leave out these sources (repeatable).", examples=[["reel-news"]]),
    ] = [],  # noqa: B006
    authors: Annotated[
        list[str],
        Query(
            description="Only articles by one of these authors, exact name (repeatable).",
            examples=[["Meera Iyer"]],
        ),
    ] = [],  # noqa: B006
    language: Annotated[
        list[str],
        Query(description="Only these languages, ISO 639-1 (repeatable).", examples=[["en"]]),
    ] = [],  # noqa: B006
    from_: Annotated[
        str | None,
        Query(
            alias="from",
            description="Published on or after (ISO date or datetime, UTC unless it says).",
            examples=["2026-09-01"],
        ),
    ] = None,
    to: Annotated[
        str | None,
        Query(
            description="Published on or before (ISO date or datetime); a date means that "
            "whole day.",
            examples=["2026-11-30"],
        ),
    ] = None,
    date_source: Annotated[
        list[str],
        Query(
            description="Only articles whose publication date came from one of these "
            f"(repeatable or comma-separated): {', '.join(DATE_SOURCES[:-1])}, or "
            f"`{NO_DATE}` for articles without a publication date.",
            examples=[["json-ld,meta"]],
        ),
    ] = [],  # noqa: B006
    quality: Annotated[
        Quality | None,
        Query(
            description="Only `ok` extractions, or only the `low`-quality ones (kept, but "
            "marked: a paywall, a teaser, mostly links or boilerplate, too short)."
        ),
    ] = None,
    person: Annotated[
        list[str],
        Query(
            description="Only articles about one of these people, by full name as the "
            "`person` facet lists it (repeatable).",
            examples=[["Milind Soman"]],
        ),
    ] = [],  # noqa: B006
) -> Filters:
    parsed = parse_query(q) if q is not None and q.strip() else None
    query = SearchQuery(
        query=parsed,
        sources=tuple(dict.fromkeys([*sources, *source])),
        exclude_sources=tuple(exclude_sources),
        authors=tuple(authors),
        languages=tuple(language),
        published_from=parse_bound(from_, "from", end=False),
        published_to=parse_bound(to, "to", end=True),
        date_sources=parse_date_sources(date_source),
        quality=quality.value if quality is not None else None,
        people=tuple(dict.fromkeys(name.strip() for name in person if name.strip())),
    )
    return Filters(text=q, query=query)  # async: a plain def would cost a thread handoff


FiltersDep = Annotated[Filters, Depends(search_filters)]
