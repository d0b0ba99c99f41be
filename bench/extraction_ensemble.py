"""Ensembles of extractors for the nested cross-validation (issue 17).

What the research on unseen pages suggests instead of site-shaped rules: let other
extractors vote. Three kinds, each a candidate the inner folds may choose like any
other (`bench/extraction.py --cv`), never picked on the all-pages score:

- pick: per page, our extraction or trafilatura's precision focus (same mode and
  rules), whichever agrees more with independent references (jusText, readability:
  both ship inside trafilatura); the other only when it agrees better by `margin`.
- vote: a paragraph of our extraction is kept when at least `k` voters (precision
  focus, jusText, readability) hold `threshold` of its word pairs.
- length: the precision focus's text when it keeps at least `ratio` of ours (it
  dropped little, so what it dropped is likely chrome).

Agreement is the Dice coefficient of the two texts' sets of word pairs: cheap, and
blind to line breaks, which the extractors place differently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from copy import deepcopy
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

from lxml import html as lxml_html
from trafilatura.baseline import basic_cleaning
from trafilatura.external import try_justext, try_readability

REFERENCES = ("justext", "readability")
PRECISION = "precision"
"""The voter that is trafilatura's precision focus with the base's mode and rules."""
_TOKEN = re.compile(r"\w+")
_BLOCKS = (
    *("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre"),
    *("td", "dd", "dt", "figcaption", "div", "section", "article"),
)


@dataclass(frozen=True)
class Ensemble:
    """How to combine the base extraction with other extractors' texts on one page."""

    kind: Literal["pick", "vote", "length"]
    voters: tuple[str, ...] = ()
    """pick: the references; vote: the voters (PRECISION and/or REFERENCES)."""
    k: int = 1
    threshold: float = 0.0
    """pick: the margin; vote: a voter's share of a paragraph's pairs; length: the ratio."""

    @property
    def extractors(self) -> int:
        """Extractors run besides the base: what it costs, for the simpler-first choice."""
        others = {*self.voters, PRECISION} if self.kind != "vote" else set(self.voters)
        return len(others)

    def describe(self) -> str:
        voters = "+".join(self.voters)
        return {
            "pick": f"pick by {voters} (margin {self.threshold})",
            "vote": f"vote {voters} (k {self.k}, {self.threshold})",
            "length": f"precision if >= {self.threshold} of the length",
        }[self.kind]


def ensembles() -> list[Ensemble]:
    """Every ensemble the cross-validation considers."""
    picks = [
        Ensemble("pick", refs, threshold=margin)
        for refs in (("justext",), ("readability",), REFERENCES)
        for margin in (0.0, 0.05)
    ]
    voter_sets = [(PRECISION, *REFERENCES), REFERENCES, (PRECISION, "readability")]
    voter_sets.append((PRECISION, "justext"))
    votes = [
        Ensemble("vote", voters, k=k, threshold=threshold)
        for voters in voter_sets
        for k in range(1, len(voters) + 1)
        for threshold in (0.3, 0.5, 0.7)
    ]
    lengths = [Ensemble("length", threshold=ratio) for ratio in (0.8, 0.9, 0.95)]
    return [*picks, *votes, *lengths]


def reference_texts(tree: lxml_html.HtmlElement, url: str) -> dict[str, str]:
    """jusText's and readability's texts of the page, a paragraph a line (both as
    trafilatura calls them for its own fallback)."""
    return {"justext": justext_text(tree, url), "readability": readability_text(tree)}


def justext_text(tree: lxml_html.HtmlElement, url: str) -> str:
    """jusText's paragraphs, with every language's stop words."""
    justext = try_justext(basic_cleaning(deepcopy(tree)), url, None)
    return "\n".join(" ".join(p.text.split()) for p in justext.iter("p") if p.text)


def readability_text(tree: lxml_html.HtmlElement) -> str:
    """readability's (trafilatura's copy of readability-lxml) blocks, one a line."""
    return "\n".join(_leaf_blocks(try_readability(deepcopy(tree))))


def _leaf_blocks(tree: lxml_html.HtmlElement) -> list[str]:
    """The text of each block element that holds no other block."""
    lines = []
    for element in tree.iter(*_BLOCKS):
        if next(element.iterdescendants(*_BLOCKS), None) is None:
            text = " ".join("".join(element.itertext()).split())
            if text:
                lines.append(text)
    return lines


def pairs(text: str) -> set[tuple[str, ...]]:
    """The text's consecutive word pairs, lower-cased (its one word for a single word)."""
    words = _TOKEN.findall(text.lower())
    if len(words) < 2:
        return {tuple(words)} if words else set()
    return set(pairwise(words))


def agreement(first: str, second: str) -> float:
    """Dice coefficient of the two texts' word pairs (0 when either has none)."""
    a, b = pairs(first), pairs(second)
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


def combine(ensemble: Ensemble, base: str, others: Mapping[str, str]) -> str:
    """The ensemble's text, from the base extraction and `others` (PRECISION and the
    REFERENCES' texts of the same page)."""
    precise = others[PRECISION]
    if ensemble.kind == "length":
        return precise if base and len(precise) >= ensemble.threshold * len(base) else base
    if ensemble.kind == "pick":
        if precise == base:
            return base
        ours = sum(agreement(base, others[ref]) for ref in ensemble.voters)
        theirs = sum(agreement(precise, others[ref]) for ref in ensemble.voters)
        return precise if theirs > ours + ensemble.threshold else base
    held = [pairs(others[voter]) for voter in ensemble.voters]
    kept = []
    for line in base.splitlines():
        mine = pairs(line)
        votes = sum(
            not mine or len(mine & theirs) >= ensemble.threshold * len(mine) for theirs in held
        )
        if votes >= ensemble.k:
            kept.append(line)
    return "\n".join(kept)
