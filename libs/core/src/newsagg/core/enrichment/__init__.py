"""Enrichment: near-duplicate groups, stories and people, set on articles before they are
stored (the indexer's stage; bench/stories.py measures it on the labelled set)."""

from newsagg.core.enrichment.enricher import (
    ENRICHMENT_VERSION,
    Enricher,
    Enrichment,
    EnrichmentSettings,
    mark_for_enrichment,
)
from newsagg.core.enrichment.people import people_in

__all__ = [
    "ENRICHMENT_VERSION",
    "Enricher",
    "Enrichment",
    "EnrichmentSettings",
    "mark_for_enrichment",
    "people_in",
]
