"""Adapters are chosen by URL, so a deployment switches transport or store by config.

Each engine is an optional extra of newsagg-core (`tantivy`, `kafka`, `elasticsearch`):
an adapter's module, and so its engine's client library, is imported only when a URL
asks for it, and a missing extra is an EngineNotInstalled naming the one to install.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from newsagg.core.ports import AlertStore, Bus, Matcher, SearchStore
from newsagg.core.settings import Settings

ENGINE_PACKAGES = {
    "tantivy": ("tantivy",),
    "kafka": ("kafka",),
    "elasticsearch": ("elasticsearch", "elastic_transport"),
}
"""Extra of newsagg-core -> the top-level modules it installs."""


class EngineNotInstalled(ImportError, ValueError):
    """A URL names an engine whose extra is not installed: a configuration error."""

    def __init__(self, url: str, extra: str, missing: str | None) -> None:
        super().__init__(
            f"{url!r} needs the {extra} engine, whose Python package ({missing}) is not "
            f"installed: install newsagg-core[{extra}] (e.g. pip install 'newsagg-core[{extra}]')",
            name=missing,
        )
        self.extra = extra


def _adapter(module: str, name: str, url: str, extra: str) -> Any:
    """`module.name`, importing the adapter only now; its engine missing is EngineNotInstalled."""
    try:
        return getattr(importlib.import_module(f"newsagg.core.adapters.{module}"), name)
    except ModuleNotFoundError as exc:
        top = (exc.name or "").partition(".")[0]
        if top in ENGINE_PACKAGES[extra]:
            raise EngineNotInstalled(url, extra, top) from exc
        raise


def path_of(url: str) -> Path:
    """`scheme:///relative/path` is relative to the working directory, `scheme:////abs` absolute."""
    rest = url.split("://", 1)[1]
    if not rest.startswith("/"):
        raise ValueError(f"{url!r}: expected {url.split('://')[0]}:///path")
    return Path(rest[1:])


def open_bus(url: str, settings: Settings | None = None) -> Bus:
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from newsagg.core.adapters.sqlite_bus import SqliteLogBus

        return SqliteLogBus(path_of(url))
    if scheme == "kafka":
        bus_class = _adapter("kafka_bus", "KafkaBus", url, "kafka")
        return bus_class.from_url(url, settings or Settings())
    raise ValueError(f"unsupported bus URL {url!r}: use sqlite:///path or kafka://host:port")


def open_store(url: str, *, writable: bool, settings: Settings | None = None) -> SearchStore:
    scheme = urlsplit(url).scheme
    if scheme == "tantivy":
        store_class = _adapter("tantivy_store", "TantivyStore", url, "tantivy")
        return store_class(path_of(url), writable=writable)
    if scheme in ("http", "https"):
        store_class = _adapter("elasticsearch_store", "ElasticsearchStore", url, "elasticsearch")
        return store_class.from_url(url, settings or Settings())
    raise ValueError(f"unsupported store URL {url!r}: use tantivy:///path or http(s)://host:9200")


def open_alert_store(url: str, settings: Settings | None = None) -> AlertStore:
    """sqlite:///path (embedded) or http(s)://host:9200 (indices <alerts_index>-*)."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from newsagg.core.adapters.sqlite_alerts import SqliteAlertStore

        return SqliteAlertStore(path_of(url))
    if scheme in ("http", "https"):
        store_class = _adapter("es_alerts", "ElasticsearchAlertStore", url, "elasticsearch")
        return store_class.from_url(url, settings or Settings())
    raise ValueError(f"unsupported alerts URL {url!r}: use sqlite:///path or http(s)://host:9200")


def open_matcher(store: SearchStore) -> Matcher:
    """The matcher for this store's engine, so matching analyses text as the store does."""
    module = type(store).__module__
    if module.endswith(".tantivy_store"):
        return _adapter("tantivy_match", "TantivyMatcher", "tantivy", "tantivy")(store)
    if module.endswith(".elasticsearch_store"):
        matcher_class = _adapter("es_match", "ElasticsearchMatcher", "http", "elasticsearch")
        return matcher_class(store)
    raise ValueError(f"no matcher for a {type(store).__name__}")
