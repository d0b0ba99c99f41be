"""Feeds and sitemaps a site announces itself, for sources that list only a homepage.

A homepage names its feeds with `<link rel="alternate" type="application/rss+xml">`
(or atom+xml); robots.txt names sitemaps with `Sitemap:` lines.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from lxml import html as lxml_html

FEED_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+xml"}
)


def _http(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https")


def feed_links(body: str | bytes, base_url: str) -> list[str]:
    """Absolute URLs of the feeds a page announces, in page order, each once."""
    if not body or not body.strip():
        return []
    try:
        tree = lxml_html.document_fromstring(body)
    except (ValueError, lxml_html.etree.ParserError):
        return []
    found: list[str] = []
    for link in tree.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        href = (link.get("href") or "").strip()
        if "alternate" in rels and kind in FEED_TYPES and href:
            url = urljoin(base_url, href)
            if _http(url) and url not in found:
                found.append(url)
    return found


def robots_sitemaps(text: str, base_url: str) -> list[str]:
    """Absolute URLs of the `Sitemap:` lines of a robots.txt, each once."""
    found: list[str] = []
    for line in text.splitlines():
        field, sep, value = line.partition(":")
        if sep and field.strip().lower() == "sitemap":
            url = urljoin(base_url, value.split("#")[0].strip())
            if value.strip() and _http(url) and url not in found:
                found.append(url)
    return found
