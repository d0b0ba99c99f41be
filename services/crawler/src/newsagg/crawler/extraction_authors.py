"""Author names as a reader would write them: no "By", no roles, no site names, no URLs.

Bylines arrive as JSON-LD Person objects, "By A and B" strings, or trafilatura's
"A; B". Sites often put their own name (or "Staff") in the author field; that is
not a person a user can search for, so it is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

_PREFIX = re.compile(
    r"^\s*(?:(?:written|posted|reported|words|text|story)\s+)?(?:by|von|por|par|di|door|av)\b[:\s]*",
    re.IGNORECASE,
)
_SPLIT = re.compile(r"\s*(?:;|\||,|&|\b[Aa]nd\b|\b(?:und|e|y|et)\b)\s*")
"""Connectors; the one-letter ones only in lower case, so "Sarah E Needleman" stays whole."""
_LEAD = re.compile(r"^(?:\w+\s+){1,2}by\s+", re.IGNORECASE)
"""'Analysis by', 'Story and photos by' before the name."""
_TRAILING = re.compile(
    r"(?:(?:^|\s+)(?:published|updated|posted|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"january|february|march|april|may|june|july|august|september|october|november|december))+$",
    re.IGNORECASE,
)
"""Words of a dateline that sites run into the byline."""
_ROLE = re.compile(
    r"\s*[,|-]?\s*\b(?:(?:staff|sports|senior|contributing|\w+) )?(?:writer|reporter|editor|"
    r"contributor|correspondent|columnist|editor-at-large)\b.*$",
    re.IGNORECASE,
)
_NOT_A_PERSON = re.compile(
    r"^(?:staff|admin|administrator|editor|editors|editorial|redaction|redação|redazione|"
    r"redaktion|news desk|newsdesk|web desk|guest|unknown|anonymous)$",
    re.IGNORECASE,
)


def _key(name: str) -> str:
    return re.sub(r"\W+", "", name).lower()


def site_names(*names: str | None, url: str) -> set[str]:
    """Keys of every name the site goes by: its stated names and its host without www/TLD."""
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    keys = {_key(n) for n in names if n}
    keys |= {_key(host), _key(host.split(".")[0])}
    return {k for k in keys if k}


def json_ld_names(value: Any) -> list[str]:
    """Names from a JSON-LD author/creator value: a string, a Person/Organization, or a list."""
    items = value if isinstance(value, list) else [value]
    names: list[str] = []
    for item in items:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict) and item.get("@type") != "Organization":
            name = item.get("name")
            if isinstance(name, str):
                names.append(name)
            elif isinstance(name, list):
                names.extend(n for n in name if isinstance(n, str))
    return names


def _candidates(raw: str) -> Iterable[str]:
    raw = _PREFIX.sub("", raw.strip())
    if "," in raw and not re.search(r"\band\b|;|&", raw) and len(raw.split(",")) == 2:
        first, second = (p.strip() for p in raw.split(","))
        if len(second.split()) == 1 and len(first.split()) == 1:
            yield f"{second} {first}"  # "Doe, Jane"
            return
    for part in _SPLIT.split(raw):
        name = _LEAD.sub("", _PREFIX.sub("", part))
        name = _TRAILING.sub("", _ROLE.sub("", name)).strip(" .:-–—\t\n")
        if name.isupper() and len(name) > 4:
            name = name.title()  # "JANIE HAR": a style, not an acronym
        yield name


def normalise_authors(raw: Iterable[str], sites: set[str]) -> list[str]:
    """Clean, de-duplicated person names in the order the page gives them."""
    authors: list[str] = []
    seen: set[str] = set()
    for value in raw:
        for name in _candidates(value):
            key = _key(name)
            if (
                not key
                or key in seen
                or key in sites
                or "@" in name
                or "://" in name
                or name.startswith("www.")
                or _NOT_A_PERSON.match(name)
                or len(name.split()) > 5
                or (name.isupper() and len(name) <= 4)  # "AP", "PTI", "MS": agencies, degrees
                or any(ch.isdigit() for ch in name)
            ):
                continue
            seen.add(key)
            authors.append(" ".join(name.split()))
    return authors
