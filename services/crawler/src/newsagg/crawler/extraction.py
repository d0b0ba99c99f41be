"""From a fetched page to an Article: trafilatura for text and metadata, plus the
page's own structured data (JSON-LD, Open Graph, article:* meta) for exact dates.

trafilatura reports the publish date as a day; newsrooms sort by the minute, so
a timestamp the page states in its markup wins, and the crawl date is never
passed off as the publish date.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import trafilatura
from lxml import html as lxml_html
from newsagg.core.article import Article, canonicalize_url
from newsagg.crawler.discovery import parse_date

MIN_TEXT_CHARS = 200
_BYLINE = re.compile(r"^\s*(by|von|por|par)\s+", re.IGNORECASE)


class ExtractionError(ValueError):
    """A page that holds no article we can index (empty, not HTML, no body)."""


def _json_ld_objects(tree: lxml_html.HtmlElement) -> Iterator[dict[str, Any]]:
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        stack = data if isinstance(data, list) else [data]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                yield item
                graph = item.get("@graph")
                if isinstance(graph, list):
                    stack.extend(graph)


def _is_article(obj: dict[str, Any]) -> bool:
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return any(isinstance(k, str) and k.endswith("Article") for k in kinds)


def _meta(tree: lxml_html.HtmlElement, *names: str) -> str | None:
    for name in names:
        values = tree.xpath(f'//meta[@property="{name}" or @name="{name}"]/@content')
        if values and values[0].strip():
            return str(values[0]).strip()
    return None


def _dates(tree: lxml_html.HtmlElement) -> tuple[datetime | None, datetime | None]:
    """(published, modified) stated by the page's structured data, if any."""
    for obj in _json_ld_objects(tree):
        if _is_article(obj) and obj.get("datePublished"):
            return parse_date(str(obj["datePublished"])), parse_date(
                str(obj.get("dateModified") or "")
            )
    return (
        parse_date(_meta(tree, "article:published_time", "datePublished", "pubdate")),
        parse_date(_meta(tree, "article:modified_time", "dateModified", "og:updated_time")),
    )


def _authors(raw: str | None, sitename: str | None) -> list[str]:
    """trafilatura joins authors with '; '. Drop 'By', duplicates and the site's own name."""
    authors: list[str] = []
    for part in (raw or "").split(";"):
        name = _BYLINE.sub("", part).strip()
        if name and name not in authors and (not sitename or name.lower() != sitename.lower()):
            authors.append(name)
    return authors


def _canonical(tree: lxml_html.HtmlElement, url: str) -> str:
    """The page's own rel=canonical / og:url when it is a usable http(s) URL."""
    stated = tree.xpath('//link[@rel="canonical"]/@href') or [_meta(tree, "og:url")]
    if stated[0]:
        candidate = urljoin(url, str(stated[0]).strip())
        try:
            canonicalize_url(candidate)
        except ValueError:
            return url
        return candidate
    return url


def _language(code: str | None) -> str | None:
    """'en-US', 'en_GB' -> 'en'."""
    if not code:
        return None
    primary = re.split(r"[-_]", code.strip())[0].lower()
    return primary if primary.isalpha() and 2 <= len(primary) <= 3 else None


def _tags(raw: list[str]) -> list[str]:
    """Keywords arrive both as one comma-joined string and split; keep each once, in order."""
    tags: list[str] = []
    for value in raw:
        for tag in value.split(","):
            if tag.strip() and tag.strip() not in tags:
                tags.append(tag.strip())
    return tags


def _without_headline(text: str, title: str) -> str:
    """trafilatura keeps an <h1> inside <article>; the headline is the title, not body text."""
    first, _, rest = text.partition("\n")
    return rest.lstrip() if first.strip() == title and rest.strip() else text


def extract_article(
    body: bytes | str,
    *,
    url: str,
    source: str,
    crawled_at: datetime | None = None,
    feed_published_at: datetime | None = None,
) -> Article:
    """Extract one article; raises ExtractionError when the page has none."""
    text_html = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if not text_html.strip():
        raise ExtractionError("empty page")
    if "<" not in text_html[:4096]:
        raise ExtractionError("not an HTML document")
    try:
        tree = lxml_html.document_fromstring(text_html)
    except (ValueError, lxml_html.etree.ParserError) as exc:
        raise ExtractionError(f"unparseable HTML: {exc}") from exc
    doc = trafilatura.bare_extraction(
        tree, url=url, with_metadata=True, include_comments=False, include_tables=True
    )
    if doc is None or not doc.text or len(doc.text) < MIN_TEXT_CHARS:
        raise ExtractionError("no article body found (empty or too short)")
    if not doc.title:
        raise ExtractionError("no headline found")
    title = doc.title.strip()
    text = _without_headline(doc.text.strip(), title)
    published, modified = _dates(tree)
    if published is None and doc.date:
        published = parse_date(doc.date)
    published = published or feed_published_at
    return Article.create(
        url=url,
        canonical_url=_canonical(tree, url),
        source=source,
        title=title,
        text=text,
        crawled_at=crawled_at or datetime.now(UTC),
        summary=doc.description or None,
        authors=_authors(doc.author, doc.sitename),
        published_at=published,
        updated_at=modified if modified and published and modified > published else None,
        language=_language(doc.language or tree.get("lang") or _meta(tree, "og:locale")),
        section=_meta(tree, "article:section"),
        tags=_tags(doc.tags or []),
        image_url=doc.image or None,
    )
