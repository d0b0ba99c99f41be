"""Near-duplicate fingerprints: word shingles, their MinHash, and LSH band keys.

Agency copy reaches outlets and comes back changed: a new headline, an added standfirst,
trimmed or reordered paragraphs. So the fingerprint is of the clean text only (never the
title), as overlapping word 5-shingles after normalisation: a reordered paragraph changes
only the few shingles at its edges, a trim removes shingles but adds none.

The signature is a datasketch MinHash of NUM_PERM permutations. Band keys (BANDS bands of
ROWS rows) are what the store indexes: two texts share at least one key with probability
1 - (1 - J^ROWS)^BANDS for Jaccard similarity J (docs/choices.md tabulates it), and a
terms query on the keys finds the candidates, which are then verified on the signatures.
The stored signature keeps the low 16 bits of each value (b-bit MinHash): two unrelated
values agree by chance once in 65,536, and it halves what each article stores.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
import struct
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import regex
from datasketch import MinHash

SHINGLE_WORDS = 5
NUM_PERM = 120
BANDS = 40
ROWS = 3
SEED = 18
SCHEME = "affine32"
"""datasketch's scheme, named so that a new default of the library cannot silently change
every signature (the stored ones would stop matching the new). Shingles are hashed to 32
bits by CRC-32 (in C) before the permutations: datasketch's default SHA-1 in Python was
most of the fingerprint's time."""

DECODED_KEPT = 8_192
"""Decoded signatures kept (about 600 bytes each, and the stored text that is the key)."""

_WORD = regex.compile(r"[\p{Alphabetic}\p{N}]+")
_ASCII_WORD = re.compile(r"[a-z0-9]+")
"""_WORD on casefolded ASCII, where its letters and digits are these (the re module's
search is twice as fast as regex's)."""
_MARKS = regex.compile(r"\p{Mn}+")
_HEADER = struct.Struct(">I")
_LOW_BITS = np.uint32(0xFFFF)


@dataclass(frozen=True)
class Fingerprint:
    """What is compared: the text's shingle count and the low 16 bits of its MinHash."""

    shingles: int
    values: np.ndarray

    def encode(self) -> str:
        """Base64 text for Article.minhash (opaque to the stores)."""
        data = _HEADER.pack(self.shingles) + self.values.astype(">u2").tobytes()
        return base64.b64encode(data).decode("ascii")

    @classmethod
    @lru_cache(maxsize=DECODED_KEPT)
    def decode(cls, text: str) -> Fingerprint | None:
        """The fingerprint of an Article.minhash; None for one made another way. The last
        DECODED_KEPT are kept: a recent article is a candidate of copy after copy."""
        try:
            data = base64.b64decode(text, validate=True)
        except ValueError:
            return None
        if len(data) != _HEADER.size + 2 * NUM_PERM:
            return None
        (shingles,) = _HEADER.unpack_from(data)
        values = np.frombuffer(data, dtype=">u2", offset=_HEADER.size).astype(np.uint16)
        return cls(shingles, values)

    def jaccard(self, other: Fingerprint) -> float:
        """Estimated Jaccard similarity of the two shingle sets."""
        return float(np.count_nonzero(self.values == other.values)) / NUM_PERM

    def containment(self, other: Fingerprint) -> float:
        """Estimated share of the smaller text's shingles found in the larger: a trimmed
        copy is contained in its original even when their Jaccard is low."""
        smaller = min(self.shingles, other.shingles)
        if smaller == 0:
            return 0.0
        jaccard = self.jaccard(other)
        common = jaccard * (self.shingles + other.shingles) / (1 + jaccard)
        return min(1.0, common / smaller)

    def size_ratio(self, other: Fingerprint) -> float:
        """The smaller shingle count over the larger."""
        larger = max(self.shingles, other.shingles)
        return min(self.shingles, other.shingles) / larger if larger else 0.0


def normalise(text: str) -> list[str]:
    """The text's words, lowercased and without accents or punctuation."""
    folded = text.casefold()
    if folded.isascii():
        return _ASCII_WORD.findall(folded)
    return _WORD.findall(_MARKS.sub("", unicodedata.normalize("NFKD", folded)))


def shingles(text: str) -> set[str]:
    """Overlapping runs of SHINGLE_WORDS words; a shorter text is one shingle."""
    return {item.decode("utf-8") for item in _shingle_bytes(normalise(text))}


def _shingle_bytes(words: list[str]) -> set[bytes]:
    """The shingles of the words as UTF-8, cut from the words joined once: what is hashed,
    without joining and encoding every run of words on its own."""
    if len(words) <= SHINGLE_WORDS:
        return {" ".join(words).encode("utf-8")} if words else set()
    joined = " ".join(words).encode("utf-8")
    if len(joined) == sum(map(len, words)) + len(words) - 1:
        sizes: Iterable[int] = map(len, words)
    else:
        sizes = [len(word.encode("utf-8")) for word in words]
    starts = [0, *itertools.accumulate(size + 1 for size in sizes)]
    """Where each word starts in `joined`; a run ends one byte (its space) before the
    start of the word after it."""
    return {
        joined[starts[i] : starts[i + SHINGLE_WORDS] - 1]
        for i in range(len(words) - SHINGLE_WORDS + 1)
    }


@lru_cache(maxsize=1)
def _template() -> MinHash:
    """The permutations, drawn once: drawing them is most of a small text's cost."""
    return MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME, hashfunc=zlib.crc32)


def fingerprint(text: str) -> tuple[Fingerprint, list[str]]:
    """The text's fingerprint and its LSH band keys (none for a text without words)."""
    return fingerprint_words(normalise(text))


def fingerprint_words(words: list[str]) -> tuple[Fingerprint, list[str]]:
    """`fingerprint` of the text whose normalised words these are."""
    items = _shingle_bytes(words)
    if not items:
        return Fingerprint(0, np.zeros(NUM_PERM, dtype=np.uint16)), []
    template = _template()
    minhash = MinHash(
        num_perm=NUM_PERM,
        seed=SEED,
        scheme=SCHEME,
        permutations=template.permutations,
        hashfunc=zlib.crc32,
    )
    minhash.update_batch(items)
    values = minhash.hashvalues.astype(np.uint32)
    low = (values & _LOW_BITS).astype(np.uint16)
    return Fingerprint(len(items), low), band_keys(values)


def band_keys(values: Sequence[int] | np.ndarray) -> list[str]:
    """One short key per band: its number and 48 bits of a hash of its rows (2 + 12 hex).

    The band number keeps equal rows of different bands apart; 48 bits keep chance
    collisions rare at 100M articles (about 1e8 / 2^48 per band and query)."""
    rows = np.asarray(values, dtype=">u4").tobytes()
    width = ROWS * 4
    digests = (
        hashlib.blake2b(rows[start : start + width], digest_size=6).hexdigest()
        for start in range(0, BANDS * width, width)
    )
    return [f"{band:02d}{digest}" for band, digest in enumerate(digests)]
