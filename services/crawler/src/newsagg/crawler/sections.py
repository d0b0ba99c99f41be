"""Section crawling: tell an article page from an index, tag or author page, and
pick the links worth following from an index page.

Structured data decides first (schema.org JSON-LD type, then og:type), because a
site says what its pages are more reliably than any heuristic; pages that say
nothing are judged by how much running text they hold and how much of their text
is links (index pages are mostly links, articles mostly prose).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from lxml import html as lxml_html
from newsagg.core.sources import Sections
from newsagg.crawler.autodiscovery import absolute_http

MIN_ARTICLE_CHARS = 500
"""Prose (text of <p> elements outside links) an article page holds at least."""
MAX_LINK_DENSITY = 0.4
"""Share of a page's text inside links above which it is an index, not an article."""
ARTICLE_TYPES = ("Article", "BlogPosting", "Report")
INDEX_TYPES = frozenset(
    {"CollectionPage", "ProfilePage", "SearchResultsPage", "ItemList", "WebSite", "AboutPage"}
)


@dataclass(frozen=True)
class PageKind:
    is_article: bool
    reason: str


def _schema_types(tree: lxml_html.HtmlElement) -> list[str]:
    types: list[str] = []
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        stack = data if isinstance(data, list) else [data]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                kind = item.get("@type")
                types.extend(k for k in (kind if isinstance(kind, list) else [kind]) if k)
                if isinstance(item.get("@graph"), list):
                    stack.extend(item["@graph"])
    return [t for t in types if isinstance(t, str)]


def _chars(element: lxml_html.HtmlElement) -> int:
    """Length of an element's text with whitespace runs collapsed."""
    return len(" ".join(element.text_content().split()))


def classify_page(body: str | bytes) -> PageKind:
    """Is this page one article, or a listing of them (index, tag, author, search)?"""
    try:
        tree = lxml_html.document_fromstring(body)
    except (ValueError, lxml_html.etree.ParserError):
        return PageKind(False, "unparseable HTML")
    types = _schema_types(tree)
    if any(t.endswith(ARTICLE_TYPES) for t in types):
        return PageKind(True, "schema.org article type")
    if any(t in INDEX_TYPES for t in types):
        return PageKind(False, f"schema.org type {next(t for t in types if t in INDEX_TYPES)}")
    og_type = tree.xpath('string(//meta[@property="og:type"]/@content)').strip().lower()
    if og_type == "article":
        return PageKind(True, "og:type article")
    if og_type:
        return PageKind(False, f"og:type {og_type}")
    for junk in tree.xpath("//script|//style|//nav|//header|//footer|//noscript"):
        junk.drop_tree()
    body_el = tree.find("body")
    text = _chars(body_el if body_el is not None else tree)
    linked = sum(_chars(a) for a in tree.iter("a"))
    prose = sum(_chars(p) for p in tree.iter("p")) - sum(_chars(a) for a in tree.xpath("//p//a"))
    density = linked / text if text else 1.0
    if prose < MIN_ARTICLE_CHARS:
        return PageKind(False, f"only {prose} characters of prose")
    if density > MAX_LINK_DENSITY:
        return PageKind(False, f"link density {density:.2f}")
    return PageKind(True, f"{prose} characters of prose, link density {density:.2f}")


def follow_links(body: str | bytes, page_url: str, sections: Sections) -> list[str]:
    """Links on a page to follow: same host as the page, http(s), allowed by the patterns."""
    try:
        tree = lxml_html.document_fromstring(body)
    except (ValueError, lxml_html.etree.ParserError):
        return []
    host = urlsplit(page_url).netloc.lower()
    found: list[str] = []
    for href in tree.xpath("//a/@href"):
        url = absolute_http(page_url, str(href))
        if url is None or urlsplit(url).netloc.lower() != host:
            continue
        if url != page_url and url not in found and sections.follows(url):
            found.append(url)
    return found
