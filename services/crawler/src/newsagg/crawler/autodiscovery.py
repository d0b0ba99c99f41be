"""Feeds and sitemaps a site announces itself, for sources that list only a homepage.

A homepage names its feeds with `<link rel="alternate" type="application/rss+xml">`
(or atom+xml); robots.txt names sitemaps with `Sitemap:` lines.
"""

from __future__ import annotations

from urllib.parse import urldefrag, urljoin, urlsplit

from lxml import html as lxml_html

FEED_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+xml"}
)


def absolute_http(base_url: str, href: str) -> str | None:
    """`href` made absolute against `base_url` if it is an http(s) address that can be
    requested; None for other schemes and for links urllib cannot parse ("http://[x")."""
    try:
        url = urljoin(base_url, urldefrag(href.strip())[0].strip())
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.hostname else None


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
            url = absolute_http(base_url, href)
            if url and url not in found:
                found.append(url)
    return found


def robots_sitemaps(text: str, base_url: str) -> list[str]:
    """Absolute URLs of the `Sitemap:` lines of a robots.txt, each once."""
    found: list[str] = []
    for line in text.splitlines():
        field, sep, value = line.partition(":")
        if sep and field.strip().lower() == "sitemap":
            url = absolute_http(base_url, value) if value.strip() else None
            if url and url not in found:
                found.append(url)
    return found
