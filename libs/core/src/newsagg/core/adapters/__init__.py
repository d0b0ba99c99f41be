"""Adapters are chosen by URL, so a deployment switches transport or store by config."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from newsagg.core.ports import Bus, SearchStore
from newsagg.core.settings import Settings


def _path_of(url: str) -> Path:
    """`scheme:///relative/path` is relative to the working directory, `scheme:////abs` absolute."""
    rest = url.split("://", 1)[1]
    if not rest.startswith("/"):
        raise ValueError(f"{url!r}: expected {url.split('://')[0]}:///path")
    return Path(rest[1:])


def open_bus(url: str, settings: Settings | None = None) -> Bus:
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from newsagg.core.adapters.sqlite_bus import SqliteLogBus

        return SqliteLogBus(_path_of(url))
    if scheme == "kafka":
        from newsagg.core.adapters.kafka_bus import KafkaBus

        return KafkaBus.from_url(url, settings or Settings())
    raise ValueError(f"unsupported bus URL {url!r}: use sqlite:///path or kafka://host:port")


def open_store(url: str, *, writable: bool, settings: Settings | None = None) -> SearchStore:
    scheme = urlsplit(url).scheme
    if scheme == "tantivy":
        from newsagg.core.adapters.tantivy_store import TantivyStore

        return TantivyStore(_path_of(url), writable=writable)
    if scheme in ("http", "https"):
        from newsagg.core.adapters.elasticsearch_store import ElasticsearchStore

        return ElasticsearchStore.from_url(url, settings or Settings())
    raise ValueError(f"unsupported store URL {url!r}: use tantivy:///path or http(s)://host:9200")
