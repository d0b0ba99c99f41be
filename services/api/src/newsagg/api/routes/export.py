"""GET /v1/export: every article matching a query, with text, streamed as JSON lines or CSV.

The response is written while the store pages through the matches (`SearchStore.scan`),
so an export of the whole index holds one page in memory, not the result set.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from enum import StrEnum
from itertools import chain
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from newsagg.api.deps import StoreDep
from newsagg.api.routes.filters import FiltersDep
from newsagg.core.article import Article
from starlette.concurrency import run_in_threadpool

router = APIRouter(prefix="/v1", tags=["export"])
CSV_COLUMNS = [
    "id",
    "url",
    "source",
    "title",
    "published_at",
    "authors",
    "language",
    "section",
    "word_count",
    "text",
]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


MEDIA_TYPES = {ExportFormat.JSONL: "application/x-ndjson", ExportFormat.CSV: "text/csv"}


def jsonl_lines(articles: Iterator[Article]) -> Iterator[str]:
    for article in articles:
        yield article.model_dump_json() + "\n"


def csv_lines(articles: Iterator[Article]) -> Iterator[str]:
    """A header, then one row per article; authors joined with '; '."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(row: list[object]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row)
        return buffer.getvalue()

    yield line(CSV_COLUMNS)
    for article in articles:
        yield line(csv_row(article))


def csv_row(a: Article) -> list[object]:
    """Every text cell is crawled from someone else's site, so each is neutralised."""
    return [
        a.id,
        cell(a.url),
        cell(a.source),
        cell(a.title),
        a.published_at.isoformat() if a.published_at else "",
        cell("; ".join(a.authors)),
        cell(a.language or ""),
        cell(a.section or ""),
        a.word_count,
        cell(a.text),
    ]


def cell(text: str) -> str:
    """A text that a spreadsheet would run as a formula gets a leading `'` (OWASP's rule
    against CSV injection): `=HYPERLINK(...)` in a crawled title stays text."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def started(articles: Iterator[Article]) -> Iterator[Article]:
    """Fetch the first article now, so a store that is down fails the request (503)
    before the 200 and its headers are sent."""
    first = next(articles, None)
    return articles if first is None else chain([first], articles)


@router.get(
    "/export",
    summary="Export every matching article",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {media: {} for media in MEDIA_TYPES.values()},
            "description": "One article per line (JSON) or per row (CSV), newest first.",
        },
        400: {"description": "The query cannot be read."},
    },
)
async def export_articles(
    store: StoreDep,
    filters: FiltersDep,
    format_: Annotated[
        ExportFormat,
        Query(alias="format", description="jsonl (one JSON article per line) or csv."),
    ] = ExportFormat.JSONL,
) -> StreamingResponse:
    articles = await run_in_threadpool(started, store.scan(filters.query.model_copy()))
    lines = jsonl_lines(articles) if format_ == ExportFormat.JSONL else csv_lines(articles)
    return StreamingResponse(
        lines,
        media_type=MEDIA_TYPES[format_],
        headers={"Content-Disposition": f'attachment; filename="newsagg-export.{format_.value}"'},
    )
