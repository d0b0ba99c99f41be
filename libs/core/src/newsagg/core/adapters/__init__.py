"""Adapters are chosen by URL, so a deployment switches transport or store by config."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from newsagg.core.ports import Bus, SearchStore


def _path_of(url: str) -> Path:
    """`scheme:///relative/path` is relative to the working directory, `scheme:////abs` absolute."""
    rest = url.split("://", 1)[1]
    if not rest.startswith("/"):
        raise ValueError(f"{url!r}: expected {url.split('://')[0]}:///path")
    return Path(rest[1:])


def open_bus(url: str) -> Bus:
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from newsagg.core.adapters.sqlite_bus import SqliteLogBus

        return SqliteLogBus(_path_of(url))
    raise ValueError(f"unsupported bus URL {url!r}: use sqlite:///path")


def open_store(url: str, *, writable: bool) -> SearchStore:
    scheme = urlsplit(url).scheme
    if scheme == "tantivy":
        from newsagg.core.adapters.tantivy_store import TantivyStore

        return TantivyStore(_path_of(url), writable=writable)
    raise ValueError(f"unsupported store URL {url!r}: use tantivy:///path")
