"""`newsagg replay`: move the indexer group back on the log, on any bus (`newsagg status`,
in status.py, shows where it is).

Rebuilding an index is a replay of the log, not a re-crawl: `replay` moves the
indexer group's committed offsets back (Bus.rewind); the next `newsagg index`
re-reads from there, and idempotent upserts make the second pass harmless.

Re-enrichment rides on the replay. An article stored by an older ENRICHMENT_VERSION is
enriched again when its message comes back; one enriched by the current version keeps
its group and story. `--re-enrich` (with `--from-beginning`) makes every article count as
never enriched first, for a change that keeps the version (thresholds, the window): the
replay then rebuilds groups and stories in the log's order.
"""

from __future__ import annotations

import sys
from datetime import datetime

from newsagg.core.adapters import open_bus, open_store
from newsagg.core.enrichment import mark_for_enrichment
from newsagg.core.ports import (
    ARTICLES_TOPIC,
    BusUnavailable,
    GroupActive,
    IndexOutdated,
    StoreUnavailable,
)
from newsagg.core.settings import Settings


def replay(settings: Settings, since: datetime | None, re_enrich: bool = False) -> int:
    """Rewind the indexer group (and with `re_enrich` mark every stored article as never
    enriched); refuses (exit 1) while an indexer is running."""
    if re_enrich and since is not None:
        print("newsagg replay: --re-enrich replays from the beginning only", file=sys.stderr)
        return 2
    bus = open_bus(settings.resolved_bus_url, settings)
    try:
        lag = bus.rewind(ARTICLES_TOPIC, settings.indexer_group, since)
    except (GroupActive, BusUnavailable) as exc:
        print(f"newsagg replay: {exc}", file=sys.stderr)
        return 1
    finally:
        bus.close()
    where = "the beginning" if since is None else since.isoformat()
    print(
        f"group {settings.indexer_group!r} rewound to {where}: {sum(lag.values())} messages"
        f" of {ARTICLES_TOPIC!r} will be indexed again by the next `newsagg index`."
    )
    if re_enrich:
        try:
            store = open_store(settings.resolved_store_url, writable=True, settings=settings)
            try:
                marked = mark_for_enrichment(store)
            finally:
                store.close()
        except (StoreUnavailable, IndexOutdated) as exc:
            print(
                f"newsagg replay: cannot mark the articles (run it again): {exc}", file=sys.stderr
            )
            return 1
        print(f"{marked} articles will be enriched again as their messages are indexed.")
    return 0
