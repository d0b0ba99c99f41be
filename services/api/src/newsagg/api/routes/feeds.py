"""GET /v1/search.rss: a saved search as an RSS 2.0 feed, newest first, for feed readers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from newsagg.api.deps import SettingsDep, StoreDep
from newsagg.api.routes.filters import FiltersDep
from newsagg.core.search import SearchPage, Sort
from newsagg.core.settings import Settings
from starlette.concurrency import run_in_threadpool

router = APIRouter(prefix="/v1", tags=["search"])
MAX_FEED_ITEMS = 50
RSS_MEDIA_TYPE = "application/rss+xml"


def rss(title: str, link: str, page: SearchPage) -> bytes:
    """The page as RSS 2.0; snippets keep their <mark> as escaped HTML, as RSS expects."""
    root = ET.Element("rss", version="2.0")
    channel = ET.SubElement(root, "channel")
    ET.SubElement(channel, "title").text = title
    ET.SubElement(channel, "link").text = link
    ET.SubElement(channel, "description").text = f"{title}: the newest matching articles."
    ET.SubElement(channel, "lastBuildDate").text = format_datetime(datetime.now(UTC), usegmt=True)
    ET.SubElement(channel, "generator").text = "newsagg"
    for hit in page.hits:
        item = ET.SubElement(channel, "item")
        ET.SubElement(item, "title").text = hit.title
        ET.SubElement(item, "link").text = hit.url
        ET.SubElement(item, "guid", isPermaLink="false").text = hit.id
        ET.SubElement(item, "description").text = hit.snippet
        ET.SubElement(item, "category").text = hit.source
        if hit.published_at is not None:
            published = hit.published_at.astimezone(UTC)
            ET.SubElement(item, "pubDate").text = format_datetime(published, usegmt=True)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


@router.get(
    "/search.rss",
    summary="Search results as an RSS feed",
    response_class=Response,
    responses={
        200: {"content": {RSS_MEDIA_TYPE: {}}, "description": "An RSS 2.0 document."},
        400: {"description": "The query cannot be read."},
    },
)
async def get_search_feed(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    filters: FiltersDep,
    size: Annotated[
        int, Query(ge=1, le=MAX_FEED_ITEMS, description="Newest matches to list.")
    ] = MAX_FEED_ITEMS,
) -> Response:
    query = filters.query.model_copy(update={"sort": Sort.DATE, "size": size, "facets": ()})
    page = await run_in_threadpool(store.search, query)
    title = f"newsagg: {filters.text}" if filters.text else "newsagg: newest articles"
    return Response(rss(title, feed_link(settings, request), page), media_type=RSS_MEDIA_TYPE)


def feed_link(settings: Settings, request: Request) -> str:
    """This feed's address on the configured public URL: the request's Host header is the
    client's to choose, so it never becomes a link other readers follow."""
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{settings.public_url}{request.url.path}{query}"
