"""`newsagg search`: the same search as the API, printed for a person."""

from __future__ import annotations

import re

from newsagg.core.adapters import open_store
from newsagg.core.query import parse_query
from newsagg.core.search import SearchQuery, Sort
from newsagg.core.settings import Settings
from rich.console import Console
from rich.markup import escape


def _marked(snippet: str) -> str:
    """The snippet's <mark> highlights as bold yellow, everything else shown literally."""
    from html import unescape

    parts = re.split(r"(<mark>.*?</mark>)", snippet)
    return "".join(
        f"[bold yellow]{escape(unescape(p[6:-7]))}[/]"
        if p.startswith("<mark>")
        else escape(unescape(p))
        for p in parts
    )


def print_search(
    settings: Settings, query: str, sources: list[str], sort: str, size: int, *, as_json: bool
) -> None:
    store = open_store(settings.resolved_store_url, writable=False, settings=settings)
    try:
        page = store.search(
            SearchQuery(
                query=parse_query(query), sources=tuple(sources), sort=Sort(sort), size=size
            )
        )
    finally:
        store.close()
    console = Console()
    if as_json:
        console.print_json(page.model_dump_json())
        return
    console.print(f"[bold]{page.total}[/] articles match [italic]{escape(query)}[/]\n")
    for rank, hit in enumerate(page.hits, 1):
        date = hit.published_at.strftime("%Y-%m-%d") if hit.published_at else "undated"
        byline = ", ".join(hit.authors) or hit.source
        console.print(f"[bold]{rank}. {escape(hit.title)}[/]  [dim]({hit.score:.2f})[/]")
        console.print(f"   [green]{hit.source}[/] · {date} · {escape(byline)}")
        console.print(f"   {_marked(hit.snippet)}")
        console.print(f"   [blue underline]{escape(hit.url)}[/]\n")
