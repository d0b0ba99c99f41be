"""The page's schema.org article, as publishers state it in JSON-LD.

Most news sites describe the story as NewsArticle/Article/BlogPosting JSON-LD
for search engines: headline, authors, exact dates and section are what the
newsroom entered, so they beat anything guessed from the layout.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml import html as lxml_html

_ARTICLE_TYPES = re.compile(r"(Article|BlogPosting|Report)$")
_TRUNCATED = re.compile(r"(\.\.\.|…|\[\.\.\.\]|&hellip;)\s*$")


@dataclass(frozen=True)
class JsonLdArticle:
    """What the page's article object says; every field may be missing."""

    headline: str | None = None
    authors: Any = None
    published: str | None = None
    modified: str | None = None
    section: str | None = None
    body: str | None = None
    language: str | None = None
    publisher: str | None = None
    keywords: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)


def _objects(tree: lxml_html.HtmlElement) -> Iterator[dict[str, Any]]:
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "", strict=False)
        except ValueError:
            continue
        stack = data if isinstance(data, list) else [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, dict):
                yield item
                for key in ("@graph", "mainEntity", "mainEntityOfPage"):
                    nested = item.get(key)
                    stack.extend(nested if isinstance(nested, list) else [nested])
            elif isinstance(item, list):
                stack.extend(item)


def _is_article(obj: dict[str, Any]) -> bool:
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return any(isinstance(k, str) and _ARTICLE_TYPES.search(k) for k in kinds)


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str)), None)
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value")
    return html.unescape(value).strip() or None if isinstance(value, str) else None


def _people(*values: Any) -> list[str]:
    """Names of the Person items among `about`/`mentions` values, in order, once each.

    Only @type Person counts: sites also list places, works and organisations there,
    and a bare string could be any of those, so it is not taken for a person.
    """
    names: list[str] = []
    for value in values:
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, dict):
                continue
            kind = item.get("@type")
            if "Person" not in (kind if isinstance(kind, list) else [kind]):
                continue
            name = " ".join((_text(item.get("name")) or "").split())
            if name and name not in names:
                names.append(name)
    return names


def body_text(raw: str | None) -> str | None:
    """articleBody as paragraphs of plain text; None when absent or visibly cut short.

    Some sites put HTML (even escaped twice) in articleBody; it is parsed, not shown.
    """
    if not raw or not raw.strip():
        return None
    text = raw
    for _ in range(2):
        if "&lt;" in text or "&amp;" in text or "&#" in text:
            text = html.unescape(text)
    if re.search(r"<(p|br|div|a|em|strong|span|h\d|body)\b", text, re.IGNORECASE):
        fragment = lxml_html.fragment_fromstring(text, create_parent="div")
        for br in fragment.iter("br"):
            br.tail = "\n" + (br.tail or "")
        blocks = [
            " ".join(el.text_content().split())
            for el in fragment.iter("p", "h2", "h3", "h4", "li", "blockquote")
        ]
        text = "\n".join(b for b in blocks if b) or fragment.text_content()
    else:
        text = html.unescape(text)
    paragraphs = [" ".join(line.split()) for line in text.splitlines()]
    text = "\n".join(p for p in paragraphs if p)
    return None if not text or _TRUNCATED.search(text) else text


def json_ld_article(tree: lxml_html.HtmlElement) -> JsonLdArticle:
    """The first article object on the page (empty when there is none)."""
    for obj in _objects(tree):
        if not _is_article(obj):
            continue
        keywords = obj.get("keywords")
        if isinstance(keywords, str):
            keywords = keywords.split(",")
        publisher = obj.get("publisher")
        return JsonLdArticle(
            headline=_text(obj.get("headline") or obj.get("name")),
            authors=obj.get("author") or obj.get("creator"),
            published=_text(obj.get("datePublished") or obj.get("dateCreated")),
            modified=_text(obj.get("dateModified")),
            section=_text(obj.get("articleSection")),
            body=obj.get("articleBody") if isinstance(obj.get("articleBody"), str) else None,
            language=_text(obj.get("inLanguage")),
            publisher=_text(publisher.get("name") if isinstance(publisher, dict) else publisher),
            keywords=[k.strip() for k in keywords or [] if isinstance(k, str) and k.strip()],
            mentions=_people(obj.get("about"), obj.get("mentions")),
        )
    return JsonLdArticle()
