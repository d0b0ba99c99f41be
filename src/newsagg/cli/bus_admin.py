"""`newsagg replay`: move the indexer group back on the log, on any bus (`newsagg status`,
in status.py, shows where it is).

Rebuilding an index is a replay of the log, not a re-crawl: `replay` moves the
indexer group's committed offsets back (Bus.rewind); the next `newsagg index`
re-reads from there, and idempotent upserts make the second pass harmless.
"""

from __future__ import annotations

import sys
from datetime import datetime

from newsagg.core.adapters import open_bus
from newsagg.core.ports import (
    ARTICLES_TOPIC,
    BusUnavailable,
    GroupActive,
)
from newsagg.core.settings import Settings


def replay(settings: Settings, since: datetime | None) -> int:
    """Rewind the indexer group; refuses (exit 1) while an indexer is running."""
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
    return 0
