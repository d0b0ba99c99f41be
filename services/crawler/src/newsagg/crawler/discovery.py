"""Read article links out of RSS 2.0 / Atom feeds and XML (incl. Google News) sitemaps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lxml import etree
from newsagg.core.article import DateSource
from newsagg.crawler.extraction_dates import parse_datetime

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, remove_comments=True, huge_tree=False
)


class DiscoveryError(ValueError):
    """A feed or sitemap that cannot be read."""


@dataclass(frozen=True)
class Link:
    """An article URL found in a feed or sitemap, with what it says about versions."""

    url: str
    published_at: datetime | None = None
    modified_at: datetime | None = None

    @property
    def stamp(self) -> datetime | None:
        """The newest date the listing gives; a later one means the story changed."""
        stamps = [d for d in (self.modified_at, self.published_at) if d is not None]
        return max(stamps) if stamps else None


@dataclass(frozen=True)
class Discovered:
    links: list[Link]
    sitemaps: list[Link]
    """Child sitemaps of a sitemap index, with their lastmod as modified_at."""
    kind: DateSource
    """The format read (feed: RSS or Atom; sitemap), where the links' dates come from."""


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _child_text(element: etree._Element, *names: str) -> str | None:
    for child in element.iter():
        if _local(child.tag) in names and child.text and child.text.strip():
            return child.text.strip()
    return None


def parse_listing(body: bytes) -> Discovered:
    """Links and child sitemaps from any supported listing format."""
    if not body.strip():
        raise DiscoveryError("empty document")
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise DiscoveryError(f"not well-formed XML: {exc}") from exc
    kind = _local(root.tag)
    if kind == "rss" or kind == "RDF":
        return Discovered(_rss_links(root), [], DateSource.FEED)
    if kind == "feed":
        return Discovered(_atom_links(root), [], DateSource.FEED)
    if kind == "urlset":
        return Discovered(_sitemap_links(root), [], DateSource.SITEMAP)
    if kind == "sitemapindex":
        return Discovered([], _sitemap_links(root, "sitemap"), DateSource.SITEMAP)
    raise DiscoveryError(
        f"unknown listing format <{kind}>: expected rss, feed, urlset or sitemapindex"
    )


def _rss_links(root: etree._Element) -> list[Link]:
    links = []
    for item in root.iter():
        if _local(item.tag) != "item":
            continue
        url = _child_text(item, "link")
        if url is None:
            guid = next((c for c in item if _local(c.tag) == "guid"), None)
            if guid is not None and guid.get("isPermaLink", "true") == "true" and guid.text:
                url = guid.text.strip()
        if url:
            links.append(
                Link(
                    url,
                    parse_datetime(_child_text(item, "pubDate", "date")),
                    parse_datetime(_child_text(item, "updated", "modified")),
                )
            )
    return links


def _atom_links(root: etree._Element) -> list[Link]:
    links = []
    for entry in root:
        if _local(entry.tag) != "entry":
            continue
        hrefs = [
            link.get("href")
            for link in entry
            if _local(link.tag) == "link" and link.get("rel", "alternate") == "alternate"
        ]
        if hrefs and hrefs[0]:
            links.append(
                Link(
                    hrefs[0].strip(),
                    parse_datetime(_child_text(entry, "published")),
                    parse_datetime(_child_text(entry, "updated")),
                )
            )
    return links


def _sitemap_links(root: etree._Element, entry: str = "url") -> list[Link]:
    links = []
    for url in root:
        if _local(url.tag) != entry:
            continue
        loc = next((c.text.strip() for c in url if _local(c.tag) == "loc" and c.text), None)
        if loc:
            lastmod = next((c.text for c in url if _local(c.tag) == "lastmod"), None)
            links.append(
                Link(
                    loc,
                    parse_datetime(_child_text(url, "publication_date")),
                    parse_datetime(lastmod),
                )
            )
    return links
