"""Whether an extracted text looks like the article: cheap page-level checks, no model.

Each check that fires takes a share off a score of 1.0 and names its reason:
- `paywall`: the text asks the reader to subscribe (or log in) to continue reading (what
  we hold is likely the teaser), or the JSON-LD says isAccessibleForFree false and a
  paywall box of the page (class or id naming paywall, subscribe, piano) holds such a
  prompt; the marker alone is a lesser sign: many such pages (two LA Times and a
  Barron's page of the benchmark) serve the whole story to the crawler, so it does not
  make the article low by itself; with a text cut short it does.
- `teaser`: the text ends cut short ("..." / "…").
- `link_density`: much of the text is the words of the page's links (a list of
  headlines, a section front), more so the higher the share.
- `short`: fewer than SHORT_CHARS characters of text.
- `boilerplate`: cookie, consent and newsletter lines in the text.
- `small_share`: the text is a sliver of the page's visible words (the story may be
  elsewhere on the page, or behind a script).
The article is kept either way; below LOW_BELOW it is marked low. The weights and the
threshold were set on bench/data/article-extraction-benchmark (`bench/dates.py` counts
its low pages): of its 121 pages one is low, a WSJ teaser ("...All...", paywall marker);
no complete article is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import html as lxml_html
from newsagg.core.article import Quality

LOW_BELOW = 0.5
SHORT_CHARS = 500
LINK_DENSITY = 0.5
"""More than this share of the text's characters are link words: a list of headlines."""
LINK_WORDS = 3
SMALL_SHARE = 0.05
"""A text under this share of the page's visible characters."""
NOT_FREE = 0.25
"""What isAccessibleForFree false alone takes off (the `paywall` reason without a prompt)."""
WEIGHTS = {
    "paywall": 0.5,
    "teaser": 0.3,
    "link_density": 0.6,
    "short": 0.3,
    "boilerplate": 0.15,
    "small_share": 0.25,
}
"""What each reason takes off the score; link_density's in full at a text all links,
boilerplate's per line (at most three)."""
_NOT_FREE = re.compile(r'"isAccessibleForFree"\s*:\s*"?false"?', re.IGNORECASE)
_PAYWALL = re.compile(
    r"(subscribe|subscription|log ?in|sign ?in|register)\b[^.\n]{0,40}\b"
    r"(to (continue|keep) reading|to read (the|this) (full|whole|rest)|for full access)"
    r"|(continue|keep) reading[^.\n]{0,30}\b(subscribe|subscription|subscribers)"
    r"|\b(already a subscriber|for subscribers only|subscribers only|exclusive to subscribers)\b",
    re.IGNORECASE,
)
_BOILERPLATE = re.compile(
    r"\b(we use cookies|this (site|website) uses cookies|accept (all )?cookies"
    r"|cookie (policy|settings)"
    r"|manage (your )?consent|consent preferences|sign up (for|to) (our|the) [\w ]{0,20}newsletter"
    r"|subscribe to (our|the) [\w ]{0,20}newsletter|newsletter sign[- ]?up)\b",
    re.IGNORECASE,
)
_PROMPT = (
    "continue reading",
    "keep reading",
    "to read the ",
    "to read this ",
    "for full access",
    "subscribers only",
    "already a subscriber",
    "exclusive to subscribers",
)
"""Phrases one of which every _PAYWALL match holds: looked for as plain lower-case text
first, they rule most texts out cheaply."""
_BOILERPLATE_HINT = re.compile(r"cookie|consent|newsletter", re.IGNORECASE)
_CUT_SHORT = re.compile(r"(\.\.\.|…|\[\.\.\.\])\s*$")
_HIDDEN = ("script", "style", "noscript", "template")
_SPACES = (" ", "\n", "\t", "\r", "\xa0")


@dataclass(frozen=True)
class QualityFlag:
    quality: Quality
    score: float
    reasons: tuple[str, ...]


def assess(text: str, tree: lxml_html.HtmlElement) -> QualityFlag:
    """The quality of `text`, extracted from the page `tree`."""
    penalties: dict[str, float] = {}
    if _prompted(text):
        penalties["paywall"] = WEIGHTS["paywall"]
    elif _not_free(tree):
        penalties["paywall"] = WEIGHTS["paywall"] if _prompted(_paywall_boxes(tree)) else NOT_FREE
    if _CUT_SHORT.search(text):
        penalties["teaser"] = WEIGHTS["teaser"]
    density = link_density(text, tree)
    if density > LINK_DENSITY:
        penalties["link_density"] = WEIGHTS["link_density"] * density
    if len(text) < SHORT_CHARS:
        penalties["short"] = WEIGHTS["short"]
    if lines := _boilerplate_lines(text):
        penalties["boilerplate"] = WEIGHTS["boilerplate"] * min(lines, 3)
    visible = visible_chars(tree)
    if visible > 0 and _chars(text) / visible < SMALL_SHARE:
        penalties["small_share"] = WEIGHTS["small_share"]
    score = round(max(0.0, 1.0 - sum(penalties.values())), 2)
    return QualityFlag(
        Quality.LOW if score < LOW_BELOW else Quality.OK, score, tuple(sorted(penalties))
    )


def visible_chars(tree: lxml_html.HtmlElement) -> int:
    """Characters of the page's text a reader sees: no white space, scripts or styles."""
    body = tree.find("body")
    if body is None:
        return 0
    hidden = sum(_chars(element.text or "") for element in body.iter(*_HIDDEN))
    return _chars(body.text_content()) - hidden


def link_density(text: str, tree: lxml_html.HtmlElement) -> float:
    """The share of the text's characters that are the words of the page's links.

    Links of fewer than LINK_WORDS words ("Home", a name) are left out: a story quotes
    such words. Each distinct link counts once, wherever the text has it (an extraction
    may join a list's items into one line).
    """
    words = _words(text)
    anchors = {_words(a.text_content()) for a in tree.iter("a")}
    linked = sum(len(a) for a in anchors if a.count(" ") >= LINK_WORDS - 1 and a in words)
    return min(1.0, linked / len(words)) if words else 0.0


def _prompted(text: str) -> bool:
    """A subscribe-to-read prompt; the plain phrase search first (most texts have none)."""
    return _has_prompt(text) and _PAYWALL.search(text) is not None


def _has_prompt(text: str) -> bool:
    lowered = text.lower()
    return any(phrase in lowered for phrase in _PROMPT)


def _boilerplate_lines(text: str) -> int:
    if not _BOILERPLATE_HINT.search(text):
        return 0
    return len({text.count("\n", 0, match.start()) for match in _BOILERPLATE.finditer(text)})


def _chars(text: str) -> int:
    """Characters but white space (a page's indentation is not text), counted in C."""
    return len(text) - sum(map(text.count, _SPACES))


def _words(text: str) -> str:
    return " ".join(text.split()).casefold()


def _not_free(tree: lxml_html.HtmlElement) -> bool:
    return any(
        _NOT_FREE.search(script.text or "")
        for script in tree.iter("script")
        if script.get("type") == "application/ld+json"
    )


def _paywall_boxes(tree: lxml_html.HtmlElement) -> str:
    """The visible text of elements that name a paywall in their class or id."""
    return " ".join(
        element.text_content()
        for element in tree.xpath(
            '//*[contains(@class, "paywall") or contains(@id, "paywall")'
            ' or contains(@class, "subscribe") or contains(@class, "piano")]'
        )
    )[:2000]
