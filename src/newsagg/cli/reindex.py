"""`newsagg reindex`: rebuild the Elasticsearch index from the current schema, no downtime.

ElasticsearchAdmin copies the live index into `<prefix>-vN+1` and swaps the aliases
atomically; search answers from the old index until the swap. The embedded tantivy
index has no aliases: it is rebuilt by replaying the bus instead. On a terminal the
copy shows a progress bar (rich); otherwise only the final lines are printed.
"""

from __future__ import annotations

import sys
from types import TracebackType
from urllib.parse import urlsplit

from newsagg.core.adapters import open_store
from newsagg.core.logs import configure_logging
from newsagg.core.settings import Settings
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class _ProgressBar:
    """ReindexProgress drawn by rich; transient, so only the final lines stay on screen."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            transient=True,
        )
        self._task = self._progress.add_task("reindex", total=None)

    def __enter__(self) -> _ProgressBar:
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def begin(self, old: str, new: str, total: int) -> None:
        self._progress.update(self._task, description=f"{old} -> {new}", total=total)

    def advance(self, copied: int) -> None:
        self._progress.update(self._task, completed=copied)


def run_reindex(settings: Settings, batch_size: int, max_docs_per_second: float | None) -> int:
    configure_logging(settings.log_level, settings.log_format, "reindex")
    url = settings.resolved_store_url
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(
            f"reindex applies to Elasticsearch stores only, not {url}; "
            "to rebuild the embedded index, delete it and replay the bus into the indexer"
        )
    store = open_store(url, writable=True, settings=settings)
    # Imported only now: open_store has said whether the elasticsearch extra is installed.
    from newsagg.core.adapters.elasticsearch_store import ElasticsearchStore
    from newsagg.core.adapters.es_admin import ElasticsearchAdmin

    try:
        if not isinstance(store, ElasticsearchStore):
            raise ValueError(f"{url} did not open an Elasticsearch store")
        store.ensure_schema()
        admin = ElasticsearchAdmin(store)
        if sys.stdout.isatty():
            with _ProgressBar() as bar:
                old, new, copied = admin.reindex(batch_size, max_docs_per_second, bar)
        else:
            old, new, copied = admin.reindex(batch_size, max_docs_per_second)
        print(f"reindexed {copied} articles: {old} -> {new}; searches now read {new}.")
        print(f"{old} is kept for rollback; delete it when satisfied: DELETE /{old}")
    finally:
        store.close()
    return 0
