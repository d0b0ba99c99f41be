"""From a fetched page to an Article: trafilatura for text and metadata, the page's
schema.org JSON-LD where the publisher states the facts, and fallbacks for the rest.

Each concern lives in its own module: encoding (bytes to text), JSON-LD, dates,
authors, language and the body text's clean-up; this one decides what wins.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urljoin

import trafilatura
from lxml import etree
from lxml import html as lxml_html
from newsagg.core.article import Article, DateSource, canonicalize_url
from newsagg.crawler.extraction_authors import json_ld_names, normalise_authors, site_names
from newsagg.crawler.extraction_dates import meta_tags, page_dates
from newsagg.crawler.extraction_encoding import decode_html
from newsagg.crawler.extraction_error import ExtractionError
from newsagg.crawler.extraction_jsonld import JsonLdArticle, body_text, json_ld_article
from newsagg.crawler.extraction_language import detect_language
from newsagg.crawler.extraction_quality import assess
from newsagg.crawler.extraction_text import body_to_text, clean_lines, fragmented
from newsagg.crawler.identity import trusted_canonical
from trafilatura.metadata import (
    examine_meta,
    extract_author,
    extract_meta_json,
    extract_sitename,
    extract_title,
)
from trafilatura.settings import Document

MIN_TEXT_CHARS = 200
_WORD = re.compile(r"\w+")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_CONTROL_CHARS = tuple(chr(code) for code in range(0x20) if _CONTROL.match(chr(code)))
"""_CONTROL's characters, each looked for alone first: 29 scans in C take a third of the
regex's 0.6 ms a page, and almost every page has none."""
STATED_BODY_WINS = 0.8
"""A complete JSON-LD body replaces an extraction shorter than this share of it."""


_PARSER = lxml_html.HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False)
"""As trafilatura parses: a comment inside a sentence ("When<!-- -->the") must not cut it."""
_PARSER.set_element_class_lookup(
    etree.ElementDefaultClassLookup(
        element=lxml_html.HtmlElement,
        comment=lxml_html.HtmlComment,
        pi=lxml_html.HtmlProcessingInstruction,
        entity=lxml_html.HtmlEntity,
    )
)
"""Every element an HtmlElement, chosen in C: lxml.html's own lookup calls Python for
each element a walk touches (to give forms and inputs their classes, which nothing here
uses): 6 % of the extraction's CPU."""


def _meta(meta: Mapping[str, list[str]], *names: str) -> str | None:
    """The first non-blank content of the first named meta tag (`meta_tags(tree)`)."""
    for name in names:
        values = meta.get(name, ())
        if values and values[0].strip():
            return str(values[0]).strip()
    return None


def _link(tree: lxml_html.HtmlElement, rel: str) -> str | None:
    """The first <link rel=...> href (a walk over <link> elements: cheaper than XPath's //)."""
    return next((link.get("href") for link in tree.iter("link") if link.get("rel") == rel), None)


def _canonical(tree: lxml_html.HtmlElement, url: str, meta: Mapping[str, list[str]]) -> str:
    """The page's own rel=canonical / og:url when it is a usable http(s) URL."""
    stated = _link(tree, "canonical") or _meta(meta, "og:url")
    if stated:
        candidate = urljoin(url, stated.strip())
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
    address = (_link(tree, "canonical") or _meta(meta_tags(tree), "og:url") or "").strip()
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
    if any(char in text_html for char in _CONTROL_CHARS):
        text_html = _CONTROL.sub("", text_html)  # NUL and friends: lxml refuses the whole page
    if not text_html.strip():
        raise ExtractionError("empty page")
    if "<" not in text_html[:4096]:
        raise ExtractionError("not an HTML document")
    try:
        return lxml_html.document_fromstring(text_html, parser=_PARSER)
    except (ValueError, etree.ParserError) as exc:
        raise ExtractionError(f"unparseable HTML: {exc}") from exc


@dataclass(frozen=True)
class Choices:
    """trafilatura's options and our clean-up rules for the body text: the knobs that
    nested cross-validation by site on the article-extraction-benchmark chooses
    (`bench/extraction.py --cv`), each kept only where it raised the held-out F1."""

    focus: Literal["precision", "balanced", "recall"] = "recall"
    fast: bool = True
    """trafilatura without its readability/jusText comparison, done again with it only
    when the fast extraction is doubtful (`finish_text`)."""
    trailing_chrome: bool = True
    """Link lists, their heading and prompts after the story's last paragraph."""
    head_chrome: bool = True
    """Headline again, kicker, dateline in the first lines."""
    precise_below: int = 1000
    """An extraction shorter than this many characters (0: never) is done again with
    trafilatura's precision focus, which is kept when it finds a body: on a short page the
    recall focus's extra lines (a standfirst, a byline and date line, the site's address,
    a list of tags) are a large share of the text. Only short pages pay the second pass."""
    precise_blob: bool = False
    """An extraction that is one run-on block (a long text with no paragraph breaks: the
    page's text gathered from a container that holds more than the story) is done again
    with the precision focus, kept when it is not a run-on block itself. Off: a candidate
    of the cross-validation that one fold of five chose (it changes one benchmark page)."""


CHOICES = Choices()
RETRY_BELOW_CHARS = 500
"""Shorter than 120 of the benchmark's 121 real bodies: the fast heuristics may have taken
a teaser or a caption instead of the story."""
RUN_ON_CHARS = 1000
RUN_ON_SHARE = 0.8
"""A text of at least RUN_ON_CHARS whose longest line holds this share of it is one block."""


def main_content(tree: lxml_html.HtmlElement, choices: Choices = CHOICES) -> Any:
    """trafilatura's main content as its XML body (None when it finds none); no metadata:
    ours comes from one pass over JSON-LD and meta tags (`page_meta`). Asked for as "txt",
    bare_extraction returns the body alone; its default ("python") also converts it to a
    text this module never reads (2 % of the extraction's CPU). trafilatura is not told
    the page's URL: it would resolve every link's address against it (8 % of the CPU),
    and nothing here reads a link's address."""
    doc = trafilatura.bare_extraction(
        tree,
        output_format="txt",
        fast=choices.fast,
        favor_precision=choices.focus == "precision",
        favor_recall=choices.focus == "recall",
        include_comments=False,
        include_tables=True,
        include_links=True,  # to recognise link lists; the links are dropped from the text
    )
    return None if doc is None else doc.body


def body_text_of(
    content: Any,
    tree: lxml_html.HtmlElement,
    titles: list[str],
    stated: JsonLdArticle,
    choices: Choices = CHOICES,
    *,
    slow_content: Callable[[], Any] | None = None,
    precise_content: Callable[[bool], Any] | None = None,
) -> str:
    """The article's text from trafilatura's `content` (which this changes); a short one
    again from `slow_content` (trafilatura with its comparison) in fast mode; a doubtful
    one again from `precise_content(fast)` (trafilatura's precision focus)."""
    precise_text = None
    if precise_content is not None:
        precise = replace(choices, focus="precision")

        def precise_text() -> str:
            text = cleaned_text(precise_content(choices.fast), titles, precise)
            if not choices.fast:
                return text
            return retried(text, lambda: cleaned_text(precise_content(False), titles, precise))

    return finish_text(
        cleaned_text(content, titles, choices),
        tree,
        titles,
        stated,
        choices,
        slow_text=None
        if slow_content is None
        else lambda: cleaned_text(slow_content(), titles, choices),
        precise_text=precise_text,
    )


def cleaned_text(content: Any, titles: list[str], choices: Choices = CHOICES) -> str:
    """trafilatura's XML body (changed in place) as plain text, cleaned by the chosen rules."""
    if content is None:
        return ""
    return body_to_text(content, titles, trailing=choices.trailing_chrome, head=choices.head_chrome)


def retried(extracted: str, slow_text: Callable[[], str]) -> str:
    """The fast extraction, or trafilatura's with its comparison when the fast one is
    doubtful (too short to be a story, or a menu's short lines) and the other is not."""
    short = len(extracted) < RETRY_BELOW_CHARS
    if not (short or fragmented(extracted)):
        return extracted
    again = slow_text()
    if short:
        return again if len(again) > len(extracted) else extracted
    return extracted if fragmented(again) else again


def run_on(text: str) -> bool:
    """One block holds nearly all of a long text: paragraphs were not told apart."""
    if len(text) < RUN_ON_CHARS:
        return False
    return max(map(len, text.splitlines())) >= RUN_ON_SHARE * len(text)


def _precise(extracted: str, choices: Choices, precise_text: Callable[[], str]) -> str:
    """The extraction, or the precision focus's when the extraction is doubtful (short, or
    one run-on block) and the precision focus finds a body that is not run-on itself."""
    short = len(extracted) < choices.precise_below
    if choices.focus == "precision" or not (short or (choices.precise_blob and run_on(extracted))):
        return extracted
    again = precise_text()
    return again if len(again) >= MIN_TEXT_CHARS and not run_on(again) else extracted


def finish_text(
    extracted: str,
    tree: lxml_html.HtmlElement,
    titles: list[str],
    stated: JsonLdArticle,
    choices: Choices = CHOICES,
    *,
    slow_text: Callable[[], str] | None = None,
    precise_text: Callable[[], str] | None = None,
) -> str:
    """The cleaned extraction, done again by `slow_text` in fast mode when doubtful, and
    by `precise_text` (the precision focus) when short or run-on as `choices` say; the
    publisher's complete JSON-LD body when ours is missing, much shorter, or the same
    words without paragraphs; trafilatura's baseline (every paragraph) when both come
    up short. The last two change no benchmark page (each shows its body in HTML and
    trafilatura finds it): they are for pages that render their body by script, or that
    trafilatura trims to nothing (repeated paragraphs), which the tests have."""
    if choices.fast and slow_text is not None:
        extracted = retried(extracted, slow_text)
    if precise_text is not None:
        extracted = _precise(extracted, choices, precise_text)
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
    _, baseline, _ = trafilatura.baseline(tree)  # it works on a copy
    rescued = clean_lines(baseline or "", titles, head=choices.head_chrome)
    return rescued if len(rescued) > len(extracted) else extracted


@dataclass(frozen=True)
class PageMeta:
    """What the page says about itself, from one pass over its JSON-LD and meta tags;
    trafilatura's costlier byline search of the layout only when the markup names no
    author. No search of tag links: it found tags on 4 of the benchmark's 121 pages
    for 3 % of the CPU."""

    title: str
    titles: list[str]
    authors: list[str]
    sitename: str | None
    description: str | None
    image: str | None
    tags: list[str]


def page_meta(
    tree: lxml_html.HtmlElement,
    url: str,
    source: str,
    stated: JsonLdArticle,
    tags: Mapping[str, list[str]] | None = None,
) -> PageMeta:
    """`tags` is `meta_tags(tree)` when the caller has it already."""
    tags = meta_tags(tree) if tags is None else tags
    meta = examine_meta(tree)
    h1_or_title = None if stated.headline or meta.title else extract_title(tree)
    title = " ".join((stated.headline or meta.title or h1_or_title or "").split())
    titles = [
        t for t in (title, meta.title, _meta(tags, "og:title"), tree.findtext(".//title")) if t
    ]
    authors = json_ld_names(stated.authors)
    if not authors:
        byline = meta.author if meta.author and " " in meta.author else None
        byline = byline or extract_meta_json(tree, Document()).author
        authors = [byline or extract_author(tree) or ""]
    sitename = meta.sitename or extract_sitename(tree)
    site = site_names(sitename, stated.publisher, _meta(tags, "og:site_name"), source, url=url)
    keywords = _tags(stated.keywords, meta.tags or [])
    return PageMeta(
        title=title,
        titles=titles,
        authors=normalise_authors(authors, site),
        sitename=sitename,
        description=meta.description or None,
        image=meta.image or None,
        tags=keywords,
    )


def extract_article(
    body: bytes | str,
    *,
    url: str,
    source: str,
    crawled_at: datetime | None = None,
    feed_published_at: datetime | None = None,
    listed_in: DateSource = DateSource.FEED,
    content_type: str | None = None,
    own_sites: frozenset[str] = frozenset(),
) -> Article:
    """Extract one article; raises ExtractionError when the page has none.

    `body` may be the raw bytes (decoded with the page's own charset, checked
    against `content_type`'s) or text that was already decoded. The page's stated
    canonical URL is its identity only on its own site or on `own_sites`.
    `feed_published_at` is the date the page's listing (`listed_in`: a feed or a
    sitemap) gave it: the article's listed_at, and its date when the page states none.
    """
    crawled_at = crawled_at or datetime.now(UTC)
    tree = _parse(body, content_type)
    stated = json_ld_article(tree)
    tags = meta_tags(tree)
    meta = page_meta(tree, url, source, stated, tags)
    text = body_text_of(
        main_content(tree, CHOICES),
        tree,
        meta.titles,
        stated,
        CHOICES,
        slow_content=lambda: main_content(tree, replace(CHOICES, fast=False)),
        precise_content=lambda fast: main_content(
            tree, replace(CHOICES, focus="precision", fast=fast)
        ),
    )
    if len(text) < MIN_TEXT_CHARS:
        raise ExtractionError("no article body found (empty or too short)")
    if not meta.title:
        raise ExtractionError("no headline found")
    canonical = _canonical(tree, url, tags)
    dates = page_dates(
        tree,
        json_ld=(stated.published, stated.modified),
        crawled_at=crawled_at,
        url=canonical,
        listed_at=feed_published_at,
        listed_in=listed_in,
        meta=tags,
    )
    quality = assess(text, tree)
    return Article.create(
        url=url,
        canonical_url=trusted_canonical(canonical, url, own_sites),
        source=source,
        title=meta.title,
        text=text,
        crawled_at=crawled_at,
        summary=meta.description,
        authors=meta.authors,
        published_at=dates.published,
        updated_at=dates.modified,
        date_source=dates.source,
        date_confidence=dates.confidence,
        listed_at=feed_published_at,
        date_notes=list(dates.notes),
        quality=quality.quality,
        quality_score=quality.score,
        quality_reasons=list(quality.reasons),
        language=detect_language(text, stated.language, tree.get("lang"), _meta(tags, "og:locale")),
        section=stated.section or _meta(tags, "article:section"),
        tags=meta.tags,
        image_url=meta.image,
        mentions=stated.mentions,
    )
