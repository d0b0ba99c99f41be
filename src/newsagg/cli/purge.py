"""`newsagg purge --source NAME`: remove one source's articles from the index and the crawl state.

The store deletes the source's articles and says which ids it deleted; the crawl state then
forgets the listed URLs that led to those ids, so nothing still counts them as crawled.
The bus is a log and keeps their messages: a replay from before the purge (`newsagg
replay`, `newsagg repair --index`) indexes them again, and purging once more removes
them. A source still in NEWSAGG_SOURCES is crawled again on its next poll.
"""

from __future__ import annotations

import sys

from newsagg.core.adapters import open_store
from newsagg.core.settings import Settings
from newsagg.crawler.state import CrawlState


def run_purge(settings: Settings, source: str) -> int:
    """0 when the source's articles are gone from store and crawl state, 1 if it had none."""
    store = open_store(settings.resolved_store_url, writable=True, settings=settings)
    try:
        deleted = store.delete_source(source)
    finally:
        store.close()
    forgotten = 0
    if settings.crawl_state_path.exists():
        state = CrawlState(settings.crawl_state_path)
        try:
            forgotten = state.forget_articles(deleted)
        finally:
            state.close()
    if not deleted:
        print(f"newsagg purge: no articles of source {source!r} in the index", file=sys.stderr)
        return 1
    noun = "article" if len(deleted) == 1 else "articles"
    print(
        f"purged {len(deleted)} {noun} of {source!r} from the index and {forgotten} listed"
        " URL(s) from the crawl state; the bus still holds their messages (a replay brings"
        " them back)."
    )
    return 0
