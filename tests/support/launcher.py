"""The one loader of deploy/local/launch.py, which starts real Kafka and Elasticsearch.

The script is stdlib-only and not a package (operators run it by path), so it is loaded
by path, once per process, under the name `newsagg_local`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

LAUNCHER = Path(__file__).resolve().parents[2] / "deploy" / "local" / "launch.py"
MODULE = "newsagg_local"


def local_servers() -> ModuleType:
    """deploy/local/launch.py as a module (LocalKafka, LocalElasticsearch)."""
    if MODULE not in sys.modules:
        spec = importlib.util.spec_from_file_location(MODULE, LAUNCHER)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[MODULE] = module
        spec.loader.exec_module(module)
    return sys.modules[MODULE]


def start_kafka() -> Any:
    """A private single-node broker (tests that restart it must not share it)."""
    return local_servers().LocalKafka(startup_timeout=180).start()


def start_elasticsearch() -> Any:
    """A private single node, fetched from Maven Central on first use (cached under .cache/)."""
    return local_servers().LocalElasticsearch().start()
