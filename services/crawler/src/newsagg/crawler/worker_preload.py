"""Imported once by the extraction pool's forkserver, before it forks any worker.

Everything loaded here is shared by every worker forked afterwards (copy-on-write), so
a worker, and a pool renewed after a worker died, starts warm: the extraction code
imported, the language model loaded (from its unpacked copy in the user's cache, see
extraction_language) and trafilatura's and htmldate's lazily built state made by one
extraction of a small page. Without it each worker paid for all of that on its first page.
"""

from __future__ import annotations

from contextlib import suppress

from newsagg.crawler.extraction import ExtractionError, extract_article
from newsagg.crawler.extraction_language import detect_language

_SAMPLE = (
    "<html lang='en'><head><title>Harbour opens to ferries again</title>"
    "<meta property='article:published_time' content='2024-05-02T08:00:00Z'></head>"
    "<body><article><h1>Harbour opens to ferries again</h1><p>By Ann Writer, May 2, 2024</p>"
    + "<p>The harbour reopened to passenger ferries on Thursday after a week of repairs to "
    "the main pier, the port authority said, and the first crossings left on time.</p>"
    * 6
    + "</article></body></html>"
)


def warm() -> None:
    """Load what the first page would load: the language model, parsers, date patterns."""
    detect_language("warm up the language model with a sentence of plain English text")
    with suppress(ExtractionError):  # the sample is only there to run the code paths once
        extract_article(_SAMPLE, url="http://127.0.0.1/warm-up", source="warm-up")


warm()
