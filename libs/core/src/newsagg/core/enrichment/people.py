"""People an article is about: its metadata's names, plus names found in its text.

No model and nothing downloaded: news style names a person in full on first mention and
by one name after ("Milind Soman ... Soman said"), or next to a role ("actor Milind
Soman") or a speech verb ("said Ankita Konwar"). A run of two or three capitalised words
counts as a person only with such evidence or when the metadata names it (a film's title
is repeated in full too, so repetition is no evidence); places and events ("New Delhi",
"Independence Day") are kept out by the words they are made of. Every form of one person
in an article becomes its full name ("Soman" after "Milind Soman" is Milind Soman).
"""

from __future__ import annotations

import functools

import regex
from newsagg.core.article import Article

_NAME_WORD = r"\p{Lu}[\p{Ll}\p{Lm}]+(?:[-'’]\p{Lu}?[\p{Ll}]+)*"
_RUN = regex.compile(rf"(?<![\p{{L}}\p{{N}}])(?:{_NAME_WORD})(?:[ \u00a0]+(?:{_NAME_WORD}))+")
_SINGLE = regex.compile(
    rf"(?<!{_NAME_WORD}[ \u00a0]+)(?<![\p{{L}}\p{{N}}])({_NAME_WORD})(?![\p{{L}}\p{{N}}])"
    rf"(?![ \u00a0]+{_NAME_WORD})"
)
"""A capitalised word with no other next to it: not part of a run."""
_POSSESSIVES = ("'s", "’s")
_SPACES = regex.compile(r"\s+")
_WORD = regex.compile(r"[\p{L}\p{N}'’-]+")
_RELATIVE = regex.compile(r"['’]?s?,\s+(who|whose)\b")


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


HONORIFICS = _set(
    """Mr Mrs Ms Dr Sir Dame Shri Smt Ustad Pandit Inspector Sub-inspector Constable Officer
    Detective Professor Prof Justice Judge Captain Capt General Colonel Major"""
)
ROLES = _set(
    """actor actress director filmmaker singer rapper musician model husband wife partner
    star co-star producer coach captain minister host judge writer showrunner composer
    dancer comedian presenter anchor player athlete chef designer founder spokesperson
    spokesman spokeswoman author novelist choreographer contestant winner creator veteran
    daughter son mother father brother sister cinematographer curator analyst poet lyricist
    photographer carpenter coordinator editor critic journalist reporter columnist
    trainer instructor choreographer filmmaker"""
)
CREDITS = _set("directed played composed written produced created hosted voiced edited shot")
SPEECH = _set("said says told added wrote posted shared explained recalled insisted admitted")
NOT_NAMES = _set(
    """The A An In On At Of And But For With From To By After Before As When While This That
    These Those His Her Their Our Its He She They We It I You If Or So Yet Also Then Now Here
    There Who What Where Why How Monday Tuesday Wednesday Thursday Friday Saturday Sunday
    January February March April May June July August September October November December
    Day Week Month Year Run Marathon Festival Film Films Awards Award Season Series Show
    Street Road Avenue Instagram Twitter Facebook YouTube Netflix Prime Video News Daily
    Times Post Club University College School Company Studios Studio Productions Records
    Party Ministry Court Police Station Hotel Stadium Cup League Championship City Office
    Box Cinema Theatre Theater Music Radio Album Tour Live Part Chapter Episode Trailer
    India Indian English Hindi Bollywood Hollywood Kollywood Tollywood Mumbai Delhi Crew
    Team Fans Review Reviews Watch Premiere International National Royal Grand Central
    Independence Republic Diwali Holi Christmas Eid Valentine Olympics Games Bank Group
    Media Network Channel TV Foundation Trust Council Board Committee Institute Museum
    Gallery Square Park Bridge Airport Express Highway Hospital Reuters Agency Press
    Read More Photo Image Images Video Videos Credit Getty Source Update Exclusive Pictures
    Entertainment Labs Collective Ask Town Pradesh Nadu Bengal State County Province District
    Island"""
)
CACHED_WORDS = 50_000
"""Capitalised runs and words whose reading (`_trim`, `_is_role`) is kept: the same names,
roles and sentence starts recur in article after article."""
PLACE_PREFIXES = _set(
    "New North South East West San Santa Los Las Saint St Fort Port Mount Lake Upper Lower"
)


def people_in(article: Article) -> list[str]:
    """The article's people, normalised, metadata's first, then in order of appearance."""
    return find_people(article.title, article.text, article.mentions)


def find_people(title: str, text: str, mentions: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Full names of the people named in the metadata `mentions` and in title and text."""
    body = f"{title}.\n{text}"
    named = [tidy(name) for name in mentions if tidy(name)]
    runs = [(match, *_trim(match.group())) for match in _RUN.finditer(body)]
    candidates = [(match, words, role) for match, words, role in runs if 2 <= len(words) <= 3]
    full_forms = {" ".join(words) for _, words, _ in candidates}
    singles = {_unpossessive(lone) for lone in _SINGLE.findall(body)}
    found: list[str] = []
    for match, words, role in candidates:
        name = " ".join(words)
        if not _plausible(words):
            continue
        if (
            name in named
            or role
            or words[-1] in singles
            or words[0] in singles
            or _cued(body, match.start(), match.end())
        ):
            found.append(name)
    people: list[str] = []
    for name in [*named, *found]:
        full = _full_form(name, full_forms | set(found))
        if full not in people:
            people.append(full)
    return people


def tidy(name: str) -> str:
    """One spelling of a name: single spaces, no possessive."""
    return _unpossessive(_SPACES.sub(" ", name).strip())


def _unpossessive(word: str) -> str:
    """Without a final "'s" (a slice: this runs on every capitalised word)."""
    return word[:-2] if word.endswith(_POSSESSIVES) else word


@functools.lru_cache(maxsize=CACHED_WORDS)
def _trim(run: str) -> tuple[tuple[str, ...], bool]:
    """The run's words without a possessive, leading function words, roles or honorifics
    ("The", "Director", "Mr" at a sentence's start are not part of the name), and whether
    a role or honorific led it (evidence of a person)."""
    words = [_unpossessive(word) for word in _SPACES.split(run.strip())]
    role = False
    while words and (words[0] in NOT_NAMES or _is_role(words[0])):
        role = role or _is_role(words[0])
        words = words[1:]
    return tuple(words), role


@functools.lru_cache(maxsize=CACHED_WORDS)
def _is_role(word: str) -> bool:
    """A role ("director", "writer-director") or an honorific ("Mr")."""
    return word in HONORIFICS or any(part in ROLES for part in word.lower().split("-"))


def _plausible(words: tuple[str, ...]) -> bool:
    """No word of places, events, organisations or sentence glue."""
    if words[0] in PLACE_PREFIXES:
        return False
    return not any(word in NOT_NAMES or _is_role(word) for word in words)


def _cued(body: str, start: int, end: int) -> bool:
    """A role or honorific just before the name ("lyricist Asha Dalvi"), a speech verb
    around it, "directed by" before it or ", who" after it."""
    before = _WORD.findall(body[max(0, start - 40) : start])[-2:]
    following = body[end : end + 25]
    after = _WORD.findall(following)[:1]
    if any(_is_role(word) for word in before):
        return True
    if len(before) == 2 and before[1].lower() == "by" and before[0].lower() in CREDITS:
        return True
    if _RELATIVE.match(following):
        return True
    return bool(before[-1:] and before[-1].lower() in SPEECH) or bool(
        after and after[0].lower() in SPEECH
    )


def _full_form(name: str, full_forms: set[str]) -> str:
    """A one-word name as the one full name ending (or starting) with it, when only one
    does; any other name as it is."""
    if " " in name:
        return name
    matches = {full for full in full_forms if name in (full.split()[-1], full.split()[0])}
    return matches.pop() if len(matches) == 1 else name
