"""Same-story similarity: title, lead and people as weighted terms, compared by cosine.

Two reports of one event share its particulars (places, figures, the thing that
happened) in their headline and first lines, even in different words; two stories about
one person share mostly the name. So the terms are the content words (plurals made
singular) of the title (counted twice: it is what the story is), the lead and the
people's names, and their weight falls with how many of the candidates hold them: a name
every candidate carries (they were found by it) counts little, the event's own words
count most.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from newsagg.core.enrichment.minhash import normalise
from newsagg.core.query import Node, Or, Term

LEAD_WORDS = 250
"""Words of the text compared, from its start: the lead and what follows it. Reports of one
event often share their particulars only after the first paragraph; on the demo's
labelled set, 250 words joined more of its stories than 30, 60, 120 or 180 at the same
precision, and more than 250 changed nothing (a choice made on the whole set, so the
cross-validated story figures of bench/stories.py are slightly optimistic)."""
QUERY_TERMS = 32
"""Terms of the candidate search: the title's, then the lead's and the names', distinct."""
BACKGROUND = 8.0
"""Documents assumed to hold none of a term, besides the candidates: with a handful of
candidates every term would otherwise look common."""

STEMS_CACHED = 100_000
"""Words whose stem is kept: a day's news uses a few tens of thousands, each many times."""

STOPWORDS = frozenset(
    str.split(
        """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we
    were what when where which while who whom why will with would you your yours yourself
    said says say told according new one two first last year years week day days time
    just like get got also back still even may might must shall us via amid per"""
    )
)


@functools.lru_cache(maxsize=STEMS_CACHED)
def stem(word: str) -> str:
    """Harman's S-stemmer: plurals to singulars ("stories" -> "story", "rides" -> "ride").

    On the demo's labelled set it joined the same stories as Snowball English at every
    threshold tried, at a fraction of the time (Snowball in Python was most of the stage's
    time on a cold start)."""
    if len(word) > 3 and word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("us", "ss")):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """Content words: normalised, without stop words and one-letter tokens."""
    return content_words(normalise(text))


def content_words(normalised: list[str]) -> list[str]:
    return [word for word in normalised if len(word) > 1 and word not in STOPWORDS]


def lead(text: str) -> str:
    """The first LEAD_WORDS words of the text."""
    return lead_and_rest(text)[0]


def lead_and_rest(text: str) -> tuple[str, str]:
    """The lead and the text after it. They are cut between two words, so the text's
    normalised words are the lead's followed by the rest's (normalising the text is done
    once for the fingerprint and the story words)."""
    parts = text.split(maxsplit=LEAD_WORDS)
    return " ".join(parts[:LEAD_WORDS]), parts[LEAD_WORDS] if len(parts) > LEAD_WORDS else ""


@dataclass(frozen=True)
class StoryWords:
    """An article's content words by where they come from: its story terms and its
    candidate search are both made from them, so its text is tokenised once."""

    title: list[str]
    lead: list[str]
    names: list[str]

    def terms(self) -> Counter[str]:
        """Term counts of title (twice), lead and names, plurals made singular."""
        return Counter(map(stem, self.title + self.title + self.lead + self.names))

    def query(self) -> Node | None:
        """The candidate search: any of the title's, names' and lead's words."""
        ordered = dict.fromkeys([*self.title, *self.names, *self.lead])
        terms = [Term(word) for word in list(ordered)[:QUERY_TERMS]]
        if not terms:
            return None
        return terms[0] if len(terms) == 1 else Or(tuple(terms))


def story_words(
    title: str, text: str, people: Iterable[str], lead_words: list[str] | None = None
) -> StoryWords:
    """`lead_words`: the normalised words of the text's lead, when the caller has them."""
    if lead_words is None:
        lead_words = normalise(lead(text))
    return StoryWords(
        title=words(title),
        lead=content_words(lead_words),
        names=[word for name in people for word in words(name)],
    )


class TermVector(NamedTuple):
    """An article's story terms over a Vocabulary: their numbers and log-scaled counts."""

    numbers: np.ndarray
    scaled: np.ndarray
    """1 + log(count) of each term."""


class Vocabulary:
    """Numbers for story terms, so that an article is compared with all its candidates in a
    few array operations: in a busy story window a batch's articles are candidates of each
    other, and a Python loop over every term of 200 candidates of ~130 terms, for each
    article of the batch, was most of the indexer's time."""

    def __init__(self) -> None:
        self._numbers: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._numbers)

    def vector(self, terms: Counter[str]) -> TermVector:
        numbers = self._numbers
        found = (numbers.setdefault(term, len(numbers)) for term in terms)
        counts = np.fromiter(terms.values(), dtype=np.float64, count=len(terms))
        return TermVector(np.fromiter(found, dtype=np.int64, count=len(terms)), 1 + np.log(counts))


def similarities(first: TermVector, others: Sequence[TermVector]) -> list[float]:
    """Cosine similarity of one article's terms to each candidate's: counts log-scaled,
    weighted by their inverse document frequency over the article and the candidates,
    smoothed by BACKGROUND notional documents holding none of them (with a handful of
    candidates every term would otherwise look common)."""
    if not others:
        return []
    vectors = [first, *others]
    numbers = np.concatenate([vector.numbers for vector in vectors])
    sizes = [len(vector.numbers) for vector in vectors]
    owner = np.repeat(np.arange(len(vectors)), sizes)
    frequency = np.bincount(numbers)
    weights = np.log((len(vectors) + BACKGROUND) / (frequency[numbers] + 0.5))
    weighted = np.concatenate([vector.scaled for vector in vectors]) * weights
    norms = np.sqrt(np.bincount(owner, weights=weighted * weighted, minlength=len(vectors)))
    own = np.zeros(len(frequency))
    own[first.numbers] = weighted[: sizes[0]]
    dots = np.bincount(owner, weights=weighted * own[numbers], minlength=len(vectors))
    denominators = norms[0] * norms[1:]
    scores = np.divide(dots[1:], denominators, out=np.zeros(len(others)), where=denominators > 0)
    return scores.tolist()
