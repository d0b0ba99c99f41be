"""`newsagg search`: the same search as the API, printed for a person.

With NEWSAGG_API_URL set it asks that API (so it works from any machine, and on the demo's
data while the demo runs); otherwise it opens the store itself, read-only.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from html import unescape

from newsagg.core.adapters import open_store
from newsagg.core.query import parse_query
from newsagg.core.search import SearchPage, SearchQuery, Sort, apply_cursor, encode_cursor
from newsagg.core.settings import Settings
from rich.console import Console
from rich.markup import escape


@dataclass(frozen=True)
class SearchArgs:
    """The filters `newsagg search` shares with GET /v1/search, as the user typed them."""

    query: str | None = None
    sources: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    published_from: str | None = None
    published_to: str | None = None
    sort: str = "relevance"
    size: int = 10
    cursor: str | None = None


def parse_bound(value: str, *, end: bool) -> datetime:
    """ISO date or datetime, as the API reads `from`/`to`: a bare date as `to` is the whole
    day (UTC); raises ValueError naming the value."""
    text = value.strip()
    try:
        if len(text) == 10:
            start = datetime.combine(date.fromisoformat(text), time.min, UTC)
            return start + timedelta(days=1, microseconds=-1) if end else start
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"not an ISO date or datetime: {value!r} (e.g. 2026-09-01)") from exc
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def search_store(settings: Settings, args: SearchArgs) -> tuple[SearchPage, str | None]:
    """The page and the next page's cursor, from the store itself."""
    request = SearchQuery(
        query=parse_query(args.query) if args.query else None,
        sources=args.sources,
        authors=args.authors,
        languages=args.languages,
        published_from=parse_bound(args.published_from, end=False) if args.published_from else None,
        published_to=parse_bound(args.published_to, end=True) if args.published_to else None,
        sort=Sort(args.sort),
        size=args.size,
        facets=(),
    )
    if args.cursor:
        request = apply_cursor(request, args.cursor)  # InvalidCursor is a ValueError
    store = open_store(settings.resolved_store_url, writable=False, settings=settings)
    try:
        page = store.search(request)
    finally:
        store.close()
    return page, encode_cursor(request, page)


def search_api(api_url: str, args: SearchArgs) -> tuple[SearchPage, str | None]:
    """The page and the next page's cursor, from GET /v1/search of the API at `api_url`."""
    single = {
        "q": args.query,
        "from": args.published_from,
        "to": args.published_to,
        "cursor": args.cursor,
        "sort": args.sort,
        "size": str(args.size),
    }
    params = [(name, value) for name, value in single.items() if value]
    params += [("sources", s) for s in args.sources]
    params += [("authors", a) for a in args.authors]
    params += [("language", lang) for lang in args.languages]
    params.append(("facets", ""))
    url = f"{api_url.rstrip('/')}/v1/search?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            body = json.load(response)
    except urllib.error.HTTPError as exc:
        raise ValueError(f"{api_url} answered {exc.code}: {_problem(exc)}") from exc
    except OSError as exc:
        raise ValueError(f"cannot reach the API at {api_url} (NEWSAGG_API_URL): {exc}") from exc
    return SearchPage.model_validate(body), body.get("next_cursor")


def _problem(error: urllib.error.HTTPError) -> str:
    """The problem+json detail of an API error, else its reason."""
    try:
        problem = json.load(error)
    except ValueError:
        return str(error.reason)
    detail = problem.get("detail") or problem.get("title") or error.reason
    return detail if isinstance(detail, str) else json.dumps(detail)


def _marked(snippet: str) -> str:
    """The snippet's <mark> highlights as bold yellow, everything else shown literally."""
    parts = re.split(r"(<mark>.*?</mark>)", snippet)
    return "".join(
        f"[bold yellow]{escape(unescape(p[6:-7]))}[/]"
        if p.startswith("<mark>")
        else escape(unescape(p))
        for p in parts
    )


def _count(n: int) -> str:
    return "1 article" if n == 1 else f"{n} articles"


def print_search(
    settings: Settings, args: SearchArgs, *, as_json: bool, console: Console | None = None
) -> None:
    page, next_cursor = (
        search_api(settings.api_url, args) if settings.api_url else search_store(settings, args)
    )
    console = console or Console()
    if as_json:
        console.print_json(json.dumps({**page.model_dump(mode="json"), "next_cursor": next_cursor}))
        return
    what = f" [italic]{escape(args.query)}[/]" if args.query else ""
    console.print(f"[bold]{_count(page.total)}[/] match{'es' if page.total == 1 else ''}{what}\n")
    for rank, hit in enumerate(page.hits, 1):
        date_ = hit.published_at.strftime("%Y-%m-%d") if hit.published_at else "undated"
        byline = ", ".join(hit.authors) or hit.source
        console.print(f"[bold]{rank}. {escape(hit.title)}[/]  [dim]({hit.score:.2f})[/]")
        console.print(f"   [green]{escape(hit.source)}[/] · {date_} · {escape(byline)}")
        console.print(f"   {_marked(hit.snippet)}")
        # one unwrapped line: the whole address, for copying and for terminals that link it
        console.print(f"   {hit.url}", markup=False, highlight=False, soft_wrap=True)
        console.print()
    if next_cursor:
        console.print(f"next page: --cursor {next_cursor}", markup=False, soft_wrap=True)
