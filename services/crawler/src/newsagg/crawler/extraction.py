"""From a fetched page to an Article: trafilatura for text and metadata, the page's
schema.org JSON-LD where the publisher states the facts, and fallbacks for the rest.

Each concern lives in its own module: encoding (bytes to text), JSON-LD, dates,
authors, language and the body text's clean-up; this one decides what wins.
"""

from __future__ import annotations

import re
from copy import deepcopy
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import trafilatura
from lxml import etree
from lxml import html as lxml_html
from newsagg.core.article import Article, canonicalize_url
from newsagg.crawler.extraction_authors import json_ld_names, normalise_authors, site_names
from newsagg.crawler.extraction_dates import page_dates
from newsagg.crawler.extraction_encoding import decode_html
from newsagg.crawler.extraction_jsonld import JsonLdArticle, body_text, json_ld_article
from newsagg.crawler.extraction_language import detect_language
from newsagg.crawler.extraction_text import body_to_text, clean_lines
from newsagg.crawler.identity import trusted_canonical
from trafilatura.metadata import extract_metadata

MIN_TEXT_CHARS = 200
_WORD = re.compile(r"\w+")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
STATED_BODY_WINS = 0.8
"""A complete JSON-LD body replaces an extraction shorter than this share of it."""


_PARSER = lxml_html.HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False)
"""As trafilatura parses: a comment inside a sentence ("When<!-- -->the") must not cut it."""


class ExtractionError(ValueError):
    """A page that holds no article we can index (empty, not HTML, no body)."""


def _meta(tree: lxml_html.HtmlElement, *names: str) -> str | None:
    for name in names:
        values = tree.xpath(f'//meta[@property="{name}" or @name="{name}"]/@content')
        if values and values[0].strip():
            return str(values[0]).strip()
    return None


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


def stated_url(body: bytes | str) -> str | None:
    """The absolute http(s) address a saved page gives itself (rel=canonical, og:url)."""
    try:
        tree = _parse(body, None)
    except ExtractionError:
        return None
    stated = tree.xpath('//link[@rel="canonical"]/@href') or [_meta(tree, "og:url")]
    address = str(stated[0] or "").strip()
    try:
        canonicalize_url(address)
    except ValueError:
        return None
    return address


def _tags(*groups: list[str]) -> list[str]:
    """Keywords arrive both as one comma-joined string and split; keep each once, in order."""
    tags: list[str] = []
    for group in groups:
        for value in group:
            for tag in value.split(","):
                if tag.strip() and tag.strip() not in tags:
                    tags.append(tag.strip())
    return tags


def _parse(body: bytes | str, content_type: str | None) -> lxml_html.HtmlElement:
    text_html = decode_html(body, content_type) if isinstance(body, bytes) else body
    text_html = _XML_DECLARATION.sub("", text_html, count=1)  # lxml refuses it in a str
    text_html = _CONTROL.sub("", text_html)  # NUL and friends: lxml refuses the whole page
    if not text_html.strip():
        raise ExtractionError("empty page")
    if "<" not in text_html[:4096]:
        raise ExtractionError("not an HTML document")
    try:
        return lxml_html.document_fromstring(text_html, parser=_PARSER)
    except (ValueError, etree.ParserError) as exc:
        raise ExtractionError(f"unparseable HTML: {exc}") from exc


def _trafilatura(
    tree: lxml_html.HtmlElement, url: str, crawled_at: datetime, *, search_dates: bool
) -> Any:
    """Recall-leaning trafilatura: our own clean-up removes the chrome it lets through."""
    return trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        include_links=True,  # to recognise link lists; the links are dropped from the text
        favor_recall=True,
        date_extraction_params=_date_params(crawled_at, search_dates),
    )


def _date_params(crawled_at: datetime, search: bool = True) -> dict[str, Any]:
    """htmldate looks for the original publication day, never later than the crawl; its
    extensive search of the text (a third of the time per page) only when needed."""
    return {
        "original_date": True,
        "extensive_search": search,
        "max_date": crawled_at.strftime("%Y-%m-%d"),
    }


def _body(doc: Any, tree: lxml_html.HtmlElement, titles: list[str], stated: JsonLdArticle) -> str:
    """The extraction; the publisher's complete JSON-LD body when ours is missing, much
    shorter, or the same words without paragraphs; trafilatura's baseline (every
    paragraph) when both come up short."""
    extracted = body_to_text(doc.body, titles) if doc is not None and doc.body is not None else ""
    complete = body_text(stated.body)
    if (
        complete
        and len(complete) >= MIN_TEXT_CHARS
        and (
            len(extracted) < STATED_BODY_WINS * len(complete)
            or _WORD.findall(extracted) == _WORD.findall(complete)
        )
    ):
        return complete
    if len(extracted) >= MIN_TEXT_CHARS:
        return extracted
    _, baseline, _ = trafilatura.baseline(deepcopy(tree))
    rescued = clean_lines(baseline or "", titles)
    return rescued if len(rescued) > len(extracted) else extracted


def extract_article(
    body: bytes | str,
    *,
    url: str,
    source: str,
    crawled_at: datetime | None = None,
    feed_published_at: datetime | None = None,
    content_type: str | None = None,
    own_sites: frozenset[str] = frozenset(),
) -> Article:
    """Extract one article; raises ExtractionError when the page has none.

    `body` may be the raw bytes (decoded with the page's own charset, checked
    against `content_type`'s) or text that was already decoded. The page's stated
    canonical URL is its identity only on its own site or on `own_sites`.
    """
    crawled_at = crawled_at or datetime.now(UTC)
    tree = _parse(body, content_type)
    stated = json_ld_article(tree)
    stated_dates = (stated.published, stated.modified)
    marked_up, _ = page_dates(tree, json_ld=stated_dates, crawled_at=crawled_at)
    doc = _trafilatura(tree, url, crawled_at, search_dates=marked_up is None)
    if doc is None:  # no main content found: metadata still names the page, baseline may rescue
        doc = extract_metadata(deepcopy(tree), url, _date_params(crawled_at))
        doc.body = None
    title = " ".join((stated.headline or doc.title or "").split())
    titles = [
        t for t in (title, doc.title, _meta(tree, "og:title"), tree.findtext(".//title")) if t
    ]
    text = _body(doc, tree, titles, stated)
    if len(text) < MIN_TEXT_CHARS:
        raise ExtractionError("no article body found (empty or too short)")
    if not title:
        raise ExtractionError("no headline found")
    published, modified = page_dates(
        tree, json_ld=stated_dates, day=doc.date, crawled_at=crawled_at
    )
    sites = site_names(doc.sitename, stated.publisher, _meta(tree, "og:site_name"), source, url=url)
    return Article.create(
        url=url,
        canonical_url=trusted_canonical(_canonical(tree, url), url, own_sites),
        source=source,
        title=title,
        text=text,
        crawled_at=crawled_at,
        summary=doc.description or None,
        authors=normalise_authors(json_ld_names(stated.authors) or [doc.author or ""], sites),
        published_at=published or feed_published_at,
        updated_at=modified,
        language=detect_language(
            text, stated.language, tree.get("lang"), doc.language, _meta(tree, "og:locale")
        ),
        section=stated.section or _meta(tree, "article:section"),
        tags=_tags(stated.keywords, doc.tags or []),
        image_url=doc.image or None,
    )
