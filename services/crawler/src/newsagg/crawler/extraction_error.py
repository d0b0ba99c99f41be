"""The one thing the crawler's own process needs from extraction: its error.

Extraction runs in the pool's workers; an ExtractionError raised there is unpickled in the
crawler's process, which then imports the module that defines it. Defined here, that
import does not load trafilatura, lxml's extraction code and the language model into the
process that never extracts.
"""

from __future__ import annotations


class ExtractionError(ValueError):
    """A page that holds no article we can index (empty, not HTML, no body)."""
