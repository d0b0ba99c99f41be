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

import math
from collections import Counter
from collections.abc import Iterable, Sequence

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
    return [word for word in normalise(text) if len(word) > 1 and word not in STOPWORDS]


def lead(text: str) -> str:
    """The first LEAD_WORDS words of the text."""
    return " ".join(text.split()[:LEAD_WORDS])


def story_terms(title: str, text: str, people: Iterable[str]) -> Counter[str]:
    """Term counts of title (twice), lead and names, plurals made singular."""
    title_words = words(title)
    counted = title_words + title_words + words(lead(text))
    for name in people:
        counted.extend(words(name))
    return Counter(map(stem, counted))


def query_of(title: str, text: str, people: Iterable[str]) -> Node | None:
    """The candidate search: any of the title's, names' and lead's words."""
    names = [word for name in people for word in words(name)]
    ordered = dict.fromkeys([*words(title), *names, *words(lead(text))])
    terms = [Term(word) for word in list(ordered)[:QUERY_TERMS]]
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else Or(tuple(terms))


def idf(documents: Sequence[Counter[str]]) -> dict[str, float]:
    """Inverse document frequency over the candidates, smoothed by BACKGROUND."""
    frequency: Counter[str] = Counter()
    for terms in documents:
        frequency.update(terms.keys())
    total = len(documents) + BACKGROUND
    return {term: math.log(total / (count + 0.5)) for term, count in frequency.items()}


def similarities(
    first: Counter[str], others: Sequence[Counter[str]], weights: dict[str, float]
) -> list[float]:
    """Cosine similarity of one article's term counts to each candidate's, under the
    weights (log-scaled counts); the article's own vector is made once, not per candidate."""
    a = _vector(first, weights)
    norm_a = math.sqrt(sum(v * v for v in a.values()))
    scores = []
    for other in others:
        b = _vector(other, weights)
        dot = sum(value * b.get(term, 0.0) for term, value in a.items())
        norm = norm_a * math.sqrt(sum(v * v for v in b.values()))
        scores.append(dot / norm if norm else 0.0)
    return scores


def _vector(terms: Counter[str], weights: dict[str, float]) -> dict[str, float]:
    return {t: (1 + math.log(n)) * weights.get(t, 0.0) for t, n in terms.items()}
