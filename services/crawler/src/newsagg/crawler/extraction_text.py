"""The body text: trafilatura's main content, cleaned by rules that hold on any news site.

trafilatura keeps some chrome that sits inside the article container: the
headline, kicker and dateline above the story, and the list of links to other
stories, with its heading and "share / subscribe / read more" prompts, that ends
many articles. These are removed by their shape (short lines above the story that
repeat the headline or carry a date, trailing lists made of links and short prompt
lines), never by site; prompt lines inside the story are left alone (removing them
gained nothing on held-out sites).
"""

from __future__ import annotations

import re

from lxml import etree
from trafilatura.xml import xmltotxt

_PROMPT = re.compile(
    r"^\W*(?:"
    r"share (?:this|on|it|via)\b|share\W*$|tweet\W*$|email\W*$|print(?: article)?\W*$|"
    r"(?:click|tap) here\b|subscribe\b|sign up\b|sign in\b|log in\b|newsletter\b|"
    r"thanks? (?:you )?for (?:signing up|subscribing)|follow (?:us|@)|"
    r"(?:read|see|watch|learn) (?:more|also|next)\b|"
    r"related(?: (?:articles?|stories|posts|news|content))?\W*$|"
    r"recommended(?: for you)?\W*$|(?:you )?(?:may|might) (?:also )?like\b|more stories\b|"
    r"(?:most )?(?:popular|read|trending)(?: now| stories| articles)?\W*$|"
    r"(?:don'?t|do not) miss\b|also on \S+|more from\b|"
    r"like this (?:story|article)\b|advertisement\W*$|sponsored\W*$|"
    r"copyright\b|©|all rights reserved|order reprints|text size\W*$|"
    r"an error (?:has )?occurred|there was an error|please try again|"
    r"leia (?:mais|também)\b|veja (?:mais|também)\b|saiba mais\b|compartilh|"
    r"leggi anche\b|lesen sie auch\b|mehr zum thema\b|lire aussi\b|à lire aussi\b|"
    r"lee también\b|baca juga\b|simak juga\b|"
    r"(?:\d+ )?comments?\W*$|explore further\W*$|filed under\b|tags?:|"
    r"tell us what you think\b"
    r")",
    re.IGNORECASE,
)
_WRITE_TO = re.compile(r"^\W*(?:write to|contact|email) .{0,80}\S+@\S+\.\w+\W*$", re.IGNORECASE)
_EMAIL_ONLY = re.compile(r"^\W*[\w.+-]+@[\w-]+(?:\.[\w-]+)+\W*$")
"""A line that is just an e-mail address: the author's contact, not prose."""
_DATELINE = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)|\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b")
_SITE_SUFFIX = re.compile(r"\s[|–—-]\s")
"""'Headline | Site' in <title>: the part before the separator is the headline."""
HEAD_LINES = 4
DATELINE_MAX_WORDS = 12
KICKER_MAX_WORDS = 2
PROMPT_MAX_WORDS = 15
LINK_ITEM_MAX_WORDS = 30
FRAGMENT_MAX_WORDS = 3
FRAGMENTED_SHARE = 0.5


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _text(element: etree._Element) -> str:
    return " ".join("".join(element.itertext()).split())


def _link_share(element: etree._Element) -> float:
    """Share of an element's text that is link text (1.0 for a list of headlines)."""
    total = len("".join(element.itertext()).strip())
    linked = sum(len("".join(ref.itertext()).strip()) for ref in element.iter("ref"))
    return linked / total if total else 0.0


def _is_link_block(element: etree._Element) -> bool:
    """A short block that is mostly a link, or a list whose every item is a short link."""
    if element.tag == "list":
        items = element.findall("item")
        return bool(items) and all(
            item.find(".//ref") is not None and len(_words(_text(item))) <= LINK_ITEM_MAX_WORDS
            for item in items
        )
    return _link_share(element) > 0.6 and len(_words(_text(element))) <= LINK_ITEM_MAX_WORDS


def _drop_trailing_chrome(body: etree._Element) -> None:
    """Remove what follows the story's last paragraph: link lists, their heading, prompts."""
    while len(body):
        last = body[-1]
        text = _text(last)
        if (
            not _words(text)
            or _is_link_block(last)
            or (last.tag == "head" and len(_words(text)) <= 8)
            or _is_boilerplate(text)
        ):
            body.remove(last)
        else:
            break


def _is_boilerplate(line: str) -> bool:
    text = line.strip().lstrip("-•* ").strip()
    if _EMAIL_ONLY.match(text):
        return True
    if len(_words(text)) > PROMPT_MAX_WORDS:
        return False
    return bool(_PROMPT.match(text) or _WRITE_TO.match(text))


def _is_title_like(line: str, titles: list[str]) -> bool:
    """The headline again, whole or as a variant (site suffix, other wording of the same words)."""
    words = _words(line)
    if not words:
        return False
    candidates = [*titles, *(_SITE_SUFFIX.split(title)[0] for title in titles)]
    for title in candidates:
        title_words = _words(title)
        if words == title_words:
            return True
        shared = len(set(words) & set(title_words))
        if (
            len(words) >= 3
            and shared >= 0.8 * len(set(words))
            and shared >= 0.6 * len(set(title_words))
        ):
            return True
    return False


def _is_head_chrome(line: str, titles: list[str]) -> bool:
    """Headline, kicker ("TECH", "Review") or dateline/byline that sits above the story."""
    words = _words(line)
    unfinished = not line.rstrip().endswith((".", "!", "?", "。", ":", ";"))
    return (
        _is_title_like(line, titles)
        or (unfinished and len(words) <= KICKER_MAX_WORDS)
        or (unfinished and len(words) <= DATELINE_MAX_WORDS and bool(_DATELINE.search(line)))
    )


def clean_lines(text: str, titles: list[str], *, head: bool = True) -> str:
    """Plain text without blank lines and, when `head` is on, the chrome above the story."""
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    start = 0
    while (
        head and start < min(HEAD_LINES, len(lines) - 1) and _is_head_chrome(lines[start], titles)
    ):
        start += 1
    return "\n".join(lines[start:])


def fragmented(text: str) -> bool:
    """Most lines are a few words: a menu or a list of links taken for the story (one
    benchmark page's fast extraction was its site's 850-line menu), not prose."""
    lines = text.splitlines()
    short = sum(len(_words(line)) <= FRAGMENT_MAX_WORDS for line in lines)
    return bool(lines) and short > FRAGMENTED_SHARE * len(lines)


def body_to_text(
    body: etree._Element, titles: list[str], *, trailing: bool = True, head: bool = True
) -> str:
    """trafilatura's XML body to paragraphs of plain text; each rule removes one kind of
    chrome when on (`trailing`: link lists and prompts after the story; `head`: the
    headline, kicker and dateline above it). Changes `body`."""
    if trailing:
        _drop_trailing_chrome(body)
    etree.strip_tags(body, "ref")
    return clean_lines(xmltotxt(body, False), titles, head=head)
