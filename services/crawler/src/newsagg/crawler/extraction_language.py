"""The article's language, from its text first and its markup second.

Templates often declare one `lang` for every page of a multilingual site, so the
text decides when the detector is sure; a short or mixed text falls back to what
the page declares. py3langid ships its model inside the package: nothing is
downloaded.
"""

from __future__ import annotations

import re
from functools import cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

CONFIDENT = 0.9
SAMPLE_CHARS = 1024
"""The head of the text: as sure as 5,000 characters on the benchmark's 121 pages (same
language on every page, one unsure page either way) at half the CPU."""
MIN_DETECT_CHARS = 40


@cache
def _identifier() -> LanguageIdentifier:
    """Loaded once per process (about half a second), on first use."""
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def language_code(value: str | None) -> str | None:
    """'en-US', 'en_GB', 'EN' -> 'en'; None for anything that is not a language tag."""
    if not value:
        return None
    primary = re.split(r"[-_]", value.strip())[0].lower()
    return primary if primary.isalpha() and 2 <= len(primary) <= 3 else None


def detect_language(text: str, *declared: str | None) -> str | None:
    """ISO 639-1 code of the text; the first declared tag wins when detection is unsure."""
    stated = next((code for code in map(language_code, declared) if code), None)
    if len(text.strip()) < MIN_DETECT_CHARS:
        return stated
    detected, confidence = _identifier().classify(text[:SAMPLE_CHARS])
    if confidence >= CONFIDENT or stated is None:
        return str(detected)
    return stated
