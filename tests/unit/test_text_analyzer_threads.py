"""TextAnalyzer shared by threads (the API analyses queries on several): the same terms."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

from newsagg.core.adapters.text_analyzer import TextAnalyzer

SUFFIXES = ("ing", "ational", "iveness", "fulness", "ously", "ements", "ies", "ed", "s", "")


def words(count: int) -> Iterator[str]:
    """Distinct words the stemmer has to work on (every one a cache miss)."""
    letters = "bcdfglmnprstv"
    for n in range(count):
        stem = "".join(letters[(n // 13**k) % 13] + "aeiou"[(n + k) % 5] for k in range(4))
        yield stem + SUFFIXES[n % len(SUFFIXES)]


def test_threads_sharing_an_analyzer_get_the_terms_one_thread_gets():
    every = list(words(8_000))
    texts = [" ".join(every[i::8]) for i in range(8)]
    expected = [TextAnalyzer().analyze(text) for text in texts]
    shared = TextAnalyzer()
    found: list[list[str] | Exception] = [[] for _ in texts]

    def analyze(i: int) -> None:
        try:
            found[i] = shared.analyze(texts[i])
        except Exception as exc:  # the stemmer's state torn by another thread
            found[i] = exc

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    try:
        threads = [threading.Thread(target=analyze, args=(i,)) for i in range(len(texts))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert found == expected
