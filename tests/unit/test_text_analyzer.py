"""The Elasticsearch adapter's pure-Python analysis makes tantivy's `news` terms.

Both stores must match alike, and Elasticsearch indices already hold terms tantivy's
analyzer made, so the twin is held to tantivy's output, not to a description of it.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from pathlib import Path

import pytest
from newsagg.core.adapters.tantivy_schema import news_analyzer
from newsagg.core.adapters.text_analyzer import MAX_TOKEN_BYTES, TextAnalyzer

ROOT = Path(__file__).resolve().parents[2]
TRICKY = [
    "added", "ebbed", "biologists", "generously", "news", "cycling", "cycles", "Soman's",
    "ΣΟΦΟΣ", "Straße", "Ærøskøbing", "naïve café", "Ḱȫ", "①②③", "ﬁnance", "İstanbul",
    "हिन्दी फ़िल्म", "日本語のニュース", "x" * (MAX_TOKEN_BYTES - 1), "x" * MAX_TOKEN_BYTES,
    "é" * (MAX_TOKEN_BYTES // 2), "é" * (MAX_TOKEN_BYTES // 2 - 1) + "e",
    "don't stop-believing 3.5km",
]  # fmt: skip


@pytest.fixture(scope="module")
def both() -> tuple[TextAnalyzer, object]:
    return TextAnalyzer(), news_analyzer()


def _words() -> list[str]:
    """Every word of the repo's docs and demo sites, and the system word list if any."""
    files = [*ROOT.glob("deploy/**/*.html"), *ROOT.glob("docs/*.md"), ROOT / "README.md"]
    dictionary = Path("/usr/share/dict/words")
    if dictionary.exists():
        files.append(dictionary)
    words: set[str] = set()
    for path in files:
        words |= set(re.findall(r"\w+", path.read_text(encoding="utf-8", errors="replace")))
    return sorted(words)


def test_the_tricky_cases_match(both):
    ours, tantivys = both
    for text in TRICKY:
        assert ours.analyze(text) == tantivys.analyze(text), text


@pytest.mark.slow  # some 77,000 words through both analyzers
def test_every_word_stems_alike(both):
    ours, tantivys = both
    words = _words()
    assert len(words) > 4000
    differ = [w for w in words if ours.analyze(w) != tantivys.analyze(w)]
    assert differ == []


@pytest.mark.slow  # some 280,000 code points through both analyzers
def test_every_assigned_code_point_splits_lowercases_and_folds_alike(both):
    """Each character between letters: a separator, or part of the word and its folding.
    (Code points unassigned in this Python's Unicode are left out: Rust's tables are newer.)"""
    ours, tantivys = both
    differ = [
        hex(code)
        for code in range(0x80, sys.maxunicode + 1)
        if unicodedata.category(chr(code)) not in ("Cn", "Cs")
        and ours.analyze(f"q{chr(code)}z") != tantivys.analyze(f"q{chr(code)}z")
    ]
    assert differ == []
