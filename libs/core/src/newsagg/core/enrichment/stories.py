"""Same-story similarity: title, lead and people as weighted terms, compared by cosine,
times how much of each headline's news the other article tells.

Two reports of one event share its particulars (places, figures, the thing that
happened) in their headline and first lines, even in different words; two stories about
one person share mostly the name. So the terms are the content words (plurals made
singular) of the title (counted twice: it is what the story is), the lead and the
people's names, and their weight falls with how many of the candidates hold them: a name
every candidate carries (they were found by it) counts little, the event's own words
count most.

The cosine alone cannot tell a follow-up from the event it follows: a report that a
talent-show winner signed a film days later retells the win (his name, age, home town,
prize) and scores above an outlet's own feature on a strike's end, which shares few
words with the wire report but the strike, the crews and the shifts (the demo's
labelled set, bench/stories.py). What differs is the headline: each report's headline
says what happened, in words that are not names ("signs", "film", "debut" against
"strike", "crews", "work"). So the cosine is multiplied by the headline coverage: the
share (weighted as the terms are) of each article's headline words that are not names
found among the other's terms, the mean of both ways. Names are left to the cosine: the
same people in two stories (a person's next film, an injury and a deal) must not make
them one. (Chosen after reading the labelled set's errors, so its cross-validated story
figure is optimistic; the thresholds themselves are cross-validated.)
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from newsagg.core.enrichment.minhash import normalise
from newsagg.core.query import Node, Or, Term

_LOWER_TOKEN = re.compile(r"(?<!\w)[a-z\u00df-\u00f6\u00f8-\u00ff]\w*")
"""Words as written that start with a lower-case letter (ASCII or Latin-1: re has no
Unicode classes, and it is much faster than normalise's regex module here)."""

STEMS_CACHED = 200_000
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


@lru_cache(maxsize=STEMS_CACHED)
def stem(word: str) -> str:
    """Harman's S-stemmer: plurals to singulars ("stories" -> "story", "rides" -> "ride").

    On the demo's labelled set it joined the same stories as Snowball English at every
    threshold tried, at a fraction of the time (Snowball in Python was most of the stage's
    time on a cold start). Cached: an article's terms are a few hundred calls, most of them
    words seen before."""
    if len(word) > 3 and word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("us", "ss")):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """Content words: normalised, without stop words and one-letter tokens."""
    return [word for word in normalise(text) if len(word) > 1 and word not in STOPWORDS]


def lead(text: str) -> str:
    """The first LEAD_WORDS words of the text."""
    return " ".join(text.split()[:LEAD_WORDS])


def headline_words(title: str, lead_text: str, title_words: list[str] | None = None) -> list[str]:
    """The title's content words (`title_words`, when the caller has them) that are not
    names or figures: those written in lower case somewhere in the title or the lead
    ("strike" in "Strike called off: ... its strike"), a name never is. A title of names
    alone keeps all its content words."""
    written = _LOWER_TOKEN.findall(f"{title} {lead_text}")
    lower = {token.casefold() for token in written if token.isascii()}
    lower.update(normalise(" ".join(token for token in written if not token.isascii())))
    found = words(title) if title_words is None else title_words
    news = [word for word in found if word in lower and not word.isdigit()]
    return news or found


@dataclass(frozen=True)
class StoryWords:
    """An article's content words by where they come from: its story terms and its
    candidate search are both made from them, so its text is tokenised once."""

    title: list[str]
    lead: list[str]
    names: list[str]
    headline: list[str]
    """The title's words that are not names (headline_words)."""

    def terms(self) -> Counter[str]:
        """Term counts of title (twice), lead and names, plurals made singular."""
        return Counter(map(stem, self.title + self.title + self.lead + self.names))

    def headline_terms(self) -> set[str]:
        """The headline's words, plurals made singular, as the terms are."""
        return set(map(stem, self.headline))

    def query(self) -> Node | None:
        """The candidate search: any of the title's, names' and lead's words."""
        ordered = dict.fromkeys([*self.title, *self.names, *self.lead])
        terms = [Term(word) for word in list(ordered)[:QUERY_TERMS]]
        if not terms:
            return None
        return terms[0] if len(terms) == 1 else Or(tuple(terms))


def story_words(title: str, text: str, people: Iterable[str]) -> StoryWords:
    lead_text = lead(text)
    title_words = words(title)
    return StoryWords(
        title=title_words,
        lead=words(lead_text),
        names=[word for name in people for word in words(name)],
        headline=headline_words(title, lead_text, title_words),
    )


class TermVector(NamedTuple):
    """An article's story terms over a Vocabulary: their numbers and log-scaled counts, and
    the numbers of its headline's terms (a subset)."""

    numbers: np.ndarray
    scaled: np.ndarray
    """1 + log(count) of each term."""
    headline: np.ndarray


class Vocabulary:
    """Numbers for story terms, so that an article is compared with all its candidates in a
    few array operations: in a busy story window a batch's articles are candidates of each
    other, and a Python loop over every term of 200 candidates of ~130 terms, for each
    article of the batch, was most of the indexer's time."""

    def __init__(self) -> None:
        self._numbers: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._numbers)

    def vector(self, terms: Counter[str], headline: Iterable[str] = ()) -> TermVector:
        """The terms' vector; `headline` holds terms of `terms` (others are left out)."""
        numbers = self._numbers
        found = np.fromiter(
            (numbers.setdefault(term, len(numbers)) for term in terms),
            dtype=np.int64,
            count=len(terms),
        )
        counts = np.fromiter(terms.values(), dtype=np.float64, count=len(terms))
        heads = [numbers[term] for term in headline if term in terms]
        return TermVector(found, 1 + np.log(counts), np.array(heads, dtype=np.int64))


def similarities(first: TermVector, others: Sequence[TermVector]) -> list[float]:
    """Each candidate's cosine times its headline coverage (`scores`)."""
    cosine, coverage = scores(first, others)
    return (cosine * coverage).tolist()


def scores(first: TermVector, others: Sequence[TermVector]) -> tuple[np.ndarray, np.ndarray]:
    """The cosine similarity of one article's terms to each candidate's, and the headline
    coverage of each pair.

    Cosine: counts log-scaled, weighted by their inverse document frequency over the
    article and the candidates, smoothed by BACKGROUND notional documents holding none of
    them (with a handful of candidates every term would otherwise look common).
    Coverage: the weight of the article's headline terms that the candidate holds over the
    weight of them all, and the same of the candidate's headline in the article, averaged;
    one way alone when the other headline has no terms, 1 when neither has."""
    if not others:
        return np.zeros(0), np.zeros(0)
    vectors = [first, *others]
    numbers = np.concatenate([vector.numbers for vector in vectors])
    sizes = [len(vector.numbers) for vector in vectors]
    owner = np.repeat(np.arange(len(vectors)), sizes)
    frequency = np.bincount(numbers, minlength=1)
    idf = np.log((len(vectors) + BACKGROUND) / (frequency + 0.5))
    weights = idf[numbers]
    weighted = np.concatenate([vector.scaled for vector in vectors]) * weights
    norms = np.sqrt(np.bincount(owner, weights=weighted * weighted, minlength=len(vectors)))
    own = np.zeros(len(frequency))
    own[first.numbers] = weighted[: sizes[0]]
    dots = np.bincount(owner, weights=weighted * own[numbers], minlength=len(vectors))
    denominators = norms[0] * norms[1:]
    cosine = np.divide(dots[1:], denominators, out=np.zeros(len(others)), where=denominators > 0)

    count = len(others)
    own_headline = np.zeros(len(frequency))
    own_headline[first.headline] = idf[first.headline]
    theirs = numbers[sizes[0] :]
    their_owner = owner[sizes[0] :] - 1
    told = np.bincount(their_owner, weights=own_headline[theirs], minlength=count)
    whole = float(own_headline.sum())
    in_first = np.zeros(len(frequency))
    in_first[first.numbers] = 1.0
    heads = np.concatenate([vector.headline for vector in others])
    head_owner = np.repeat(np.arange(count), [len(vector.headline) for vector in others])
    head_weights = idf[heads]
    their_whole = np.bincount(head_owner, weights=head_weights, minlength=count)
    their_told = np.bincount(head_owner, weights=head_weights * in_first[heads], minlength=count)
    ways = np.zeros(count)
    total = np.zeros(count)
    if whole > 0:
        ways += 1
        total += told / whole
    has_headline = their_whole > 0
    ways += has_headline
    total += np.divide(their_told, their_whole, out=np.zeros(count), where=has_headline)
    coverage = np.divide(total, ways, out=np.ones(count), where=ways > 0)
    return cosine, coverage
