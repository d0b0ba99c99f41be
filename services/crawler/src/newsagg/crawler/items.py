"""What passes between the spider and the item pipelines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from newsagg.core.article import Article, DateSource


@dataclass
class FetchedPage:
    """An article page as downloaded, on its way to extraction and the bus."""

    listed_url: str
    """The crawl state's key for the page: the canonical form of the URL it was listed as
    (known before the fetch; the article id comes from the page's canonical, after it)."""
    url: str
    body: bytes
    """As downloaded: decoded in the extraction worker (extraction_encoding), which spares
    the reactor thread the decoding and the pool's pipe a second copy of the text."""
    source: str
    feed_published_at: datetime | None
    """The date the page's feed or sitemap gave it (None for a page found in a section)."""
    own_sites: frozenset[str] = frozenset()
    """Sites whose addresses the page may claim as its canonical (see identity.py)."""
    listed_in: DateSource = DateSource.FEED
    """The kind of listing (feed or sitemap) `feed_published_at` comes from."""
    content_type: str | None = None
    """The response's Content-Type header, whose charset the decoding weighs."""


@dataclass
class ExtractedPage:
    """A fetched page and the article extracted from it, on its way to the bus."""

    page: FetchedPage
    article: Article
