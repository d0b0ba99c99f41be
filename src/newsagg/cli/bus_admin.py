"""`newsagg status` and `newsagg replay`: look at and move the indexer group, on any bus.

Rebuilding an index is a replay of the log, not a re-crawl: `replay` moves the
indexer group's committed offsets back (Bus.rewind); the next `newsagg index`
re-reads from there, and idempotent upserts make the second pass harmless.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime

from newsagg.core.adapters import open_bus
from newsagg.core.ports import (
    ARTICLES_TOPIC,
    BusUnavailable,
    DataCorrupted,
    GroupActive,
    dead_letter_topic,
)
from newsagg.core.settings import Settings


def print_status(settings: Settings, *, as_json: bool = False) -> int:
    """Per-partition lag of the indexer group on the articles topic, and the DLQ size.

    A bus that is down or damaged is one line on stderr and exit 1, not a traceback.
    """
    try:
        bus = open_bus(settings.resolved_bus_url, settings)
    except (BusUnavailable, DataCorrupted) as exc:
        print(f"newsagg status: {exc}", file=sys.stderr)
        return 1
    try:
        lag = bus.group_lag(ARTICLES_TOPIC, settings.indexer_group)
        dead = bus.topic_size(dead_letter_topic(ARTICLES_TOPIC))
    except (BusUnavailable, DataCorrupted) as exc:
        print(f"newsagg status: {exc}", file=sys.stderr)
        return 1
    finally:
        bus.close()
    if as_json:
        report = {
            "bus": settings.resolved_bus_url,
            "group": settings.indexer_group,
            "topic": ARTICLES_TOPIC,
            "lag": {str(p): n for p, n in sorted(lag.items())},
            "dead_letters": dead,
        }
        print(json.dumps(report))
        return 0
    print(f"bus: {settings.resolved_bus_url}")
    print(f"group {settings.indexer_group!r} on {ARTICLES_TOPIC!r}:")
    print("  partition  lag")
    for partition, count in sorted(lag.items()):
        print(f"  {partition:>9}  {count}")
    print(f"  {'total':>9}  {sum(lag.values())}")
    print(f"dead letters in {dead_letter_topic(ARTICLES_TOPIC)!r}: {dead}")
    return 0


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
