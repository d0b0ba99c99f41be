"""The article's language, from its text first and its markup second.

Templates often declare one `lang` for every page of a multilingual site, so the
text decides when the detector is sure; a short or mixed text falls back to what
the page declares. py3langid ships its model inside the package: nothing is
downloaded.
"""

from __future__ import annotations

import lzma
import os
import re
import shutil
import tempfile
import time
import zipfile
from functools import cache
from importlib.metadata import version
from pathlib import Path

import numpy as np
from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier
from py3langid.modelio import _to_array

CONFIDENT = 0.9
SAMPLE_CHARS = 1024
"""The head of the text: as sure as 5,000 characters on the benchmark's 121 pages (same
language on every page, one unsure page either way) at half the CPU."""
MIN_DETECT_CHARS = 40
STALE_PART_S = 600
"""A part of the unpacked copy older than this lost its writer (a write takes about a second)."""


@cache
def _identifier() -> LanguageIdentifier:
    """Loaded once per process, on first use (the crawler's extraction workers share the
    one their forkserver loads). py3langid ships its model LZMA-compressed and unpacks it
    on every load (0.35 s of CPU, on the path to the crawl's first article); an unpacked
    copy in the user's cache loads in half the time. Without a writable cache, or with a
    copy that does not load, the packaged model is used as py3langid loads it."""
    try:
        unpacked = _unpacked_model()
    except (OSError, RuntimeError):
        return _packaged()
    try:
        return _from_npz(unpacked)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        unpacked.unlink(missing_ok=True)  # damaged: the next load writes it again
        return _packaged()


def _packaged() -> LanguageIdentifier:
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def model_cache_dir() -> Path:
    """$XDG_CACHE_HOME/newsagg, else ~/.cache/newsagg (RuntimeError without a home)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsagg"


def _unpacked_model() -> Path:
    """The packaged model unpacked into the cache, once per py3langid version and file:
    written whole under a temporary name, then renamed, so a reader never sees part."""
    packaged = MODEL_DIR / MODEL_FILE
    stat = packaged.stat()
    cached = (
        model_cache_dir()
        / f"py3langid-{version('py3langid')}-{stat.st_size}-{stat.st_mtime_ns}.npz"
    )
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        _tidy(cached)
        with tempfile.NamedTemporaryFile(
            dir=cached.parent, prefix=f"{cached.name}.", suffix=".part", delete=False
        ) as out:
            try:
                with lzma.open(packaged) as model:
                    shutil.copyfileobj(model, out, length=1 << 20)
            except BaseException:
                os.unlink(out.name)
                raise
        os.replace(out.name, cached)
    return cached


def _tidy(cached: Path) -> None:
    """Removes what earlier loads left beside `cached`: copies for other py3langid versions
    and parts whose writer was killed (68 MB each: a crash loop would fill the disk)."""
    stale_before = time.time() - STALE_PART_S
    for path in cached.parent.iterdir():
        try:
            if (
                path != cached
                and path.name.startswith("py3langid-")
                and (path.suffix == ".npz" or path.stat().st_mtime < stale_before)
            ):
                path.unlink()
        except OSError:
            continue  # gone already, or not ours to remove


def _from_npz(path: Path) -> LanguageIdentifier:
    """The identifier py3langid's from_model_file makes, from the unpacked npz (its
    modelio.load_model reads the same arrays from a temporary copy)."""
    with np.load(path, allow_pickle=False) as data:
        return LanguageIdentifier(
            np.asarray(data["ptc"]),
            np.asarray(data["pc"]),
            data["classes"].tolist(),
            _to_array(data["nextmove"]),
            data["out_feat"].tolist(),
            norm_probs=True,
            tk_row=_to_array(data["nextmove_row"]),
        )


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
