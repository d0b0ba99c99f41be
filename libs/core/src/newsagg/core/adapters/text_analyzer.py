"""The news text analyzer: how article text and query words become index terms.

One analysis for both stores, so they match alike: split into runs of letters and
digits, drop tokens of MAX_TOKEN_BYTES bytes or more, lowercase, fold accents to
ASCII, stem (Snowball English). The embedded store has tantivy run it natively
(tantivy_schema builds the same chain from these constants); the Elasticsearch build
we can fetch has no stemmer or ASCII folding (docs/elasticsearch.md), so its adapter
runs this pure-Python twin and indexes the terms it makes.

The twin gives tantivy's terms: `ascii_folding.json` is tantivy's (Lucene's) folding
table read from tantivy code point by code point, and snowballstemmer 3 is the
Snowball English that tantivy's stemmer compiles. tests/unit/test_text_analyzer.py
holds the two to the same output on every assigned code point and on a word list.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from functools import lru_cache
from importlib import resources

import regex
import snowballstemmer

MAX_TOKEN_BYTES = 40
"""Tokens this long (in UTF-8) or longer are dropped: URLs, hashes and base64, not words."""
STEMMER_LANGUAGE = "english"

_WORD = regex.compile(r"[\p{Alphabetic}\p{N}]+")
"""tantivy's simple tokenizer: runs of what Rust's `char::is_alphanumeric` accepts."""
_FINAL_SIGMA = "Σ"
"""str.lower() makes a word-final Σ into ς; tantivy lowercases char by char (σ)."""


@lru_cache(maxsize=1)
def _folding() -> dict[int, str]:
    table = json.loads(resources.files(__package__).joinpath("ascii_folding.json").read_text())
    return {int(code, 16): folded for code, folded in table.items()}


TERM_CACHE_SIZE = 200_000


class _TermCache(dict[str, str | None]):
    """Token -> term, made on a miss and emptied when full. A hit is a dict lookup in C:
    through an lru_cache each of the ~300 tokens of an article cost as much again, ~0.02
    CPU ms an article on the Elasticsearch store's write path."""

    def __init__(self, term_of: Callable[[str], str | None], size: int) -> None:
        super().__init__()
        self._term_of = term_of
        self._size = size

    def __missing__(self, token: str) -> str | None:
        term = self._term_of(token)
        if len(self) >= self._size:
            self.clear()
        self[token] = term
        return term


class TextAnalyzer:
    """Text in, terms out, as tantivy's `news` analyzer makes them."""

    def __init__(self) -> None:
        self._fold = _folding()
        self._stemmer = snowballstemmer.stemmer(STEMMER_LANGUAGE)
        self._stem_lock = threading.Lock()
        self._stem = lru_cache(maxsize=100_000)(self._stem_word)
        # Words repeat (Zipf): one cache lookup per token instead of length check,
        # lowercasing, folding and a stem lookup made the analysis ~3x faster.
        self._terms = _TermCache(self._term_of, TERM_CACHE_SIZE)

    def analyze(self, text: str) -> list[str]:
        terms = map(self._terms.__getitem__, _WORD.findall(text))
        return [term for term in terms if term is not None]

    def _stem_word(self, word: str) -> str:
        """One word at a time: the stemmer keeps the word it works on in itself, and the API
        analyses queries on several threads (two at once gave wrong stems and IndexError)."""
        with self._stem_lock:
            return str(self._stemmer.stemWord(word))

    def _term_of(self, token: str) -> str | None:
        """The token's term, None for a token too long to be a word."""
        if len(token.encode("utf-8")) >= MAX_TOKEN_BYTES:
            return None
        return str(self._stem(self._normalize(token)))

    def _normalize(self, token: str) -> str:
        if token.isascii():
            return token.lower()
        lowered = "".join(map(str.lower, token)) if _FINAL_SIGMA in token else token.lower()
        return lowered.translate(self._fold)
