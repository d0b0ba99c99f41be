"""The core splits at its seam: each engine is imported only by the adapter a URL asks for.

Each check runs in a fresh interpreter whose import system refuses the engines that
deployment would not have installed (the extras of newsagg-core it left out).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

ADAPTERS = Path(__file__).resolve().parents[2] / "libs/core/src/newsagg/core/adapters"
ENGINES = ("tantivy", "kafka", "elasticsearch", "elastic_transport")

HOOK = """
import importlib.abc, json, sys
BLOCKED = set(sys.argv[1].split(","))
class Uninstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Uninstalled())
"""
REPORT = """
print(json.dumps(sorted({m.partition(".")[0] for m in sys.modules} & set(sys.argv[2].split(",")))))
"""


def run_without(blocked: tuple[str, ...], code: str) -> list[str]:
    """Run `code` with `blocked` uninstalled; the engines it imported all the same."""
    script = HOOK + textwrap.dedent(code) + REPORT
    done = subprocess.run(
        [sys.executable, "-c", script, ",".join(blocked), ",".join(ENGINES)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_the_domain_ports_and_sqlite_bus_need_no_engine(tmp_path):
    imported = run_without(
        ENGINES,
        f"""
        from newsagg.core import article, ports, query, search, sources
        from newsagg.core.adapters import open_bus
        bus = open_bus("sqlite:///{tmp_path}/bus.db")
        bus.close()
        """,
    )
    assert imported == []


def test_elasticsearch_needs_no_tantivy_and_no_kafka():
    imported = run_without(
        ("tantivy", "kafka"),
        """
        from newsagg.core.adapters import open_store
        from newsagg.core.adapters.es_admin import ElasticsearchAdmin
        store = open_store("http://127.0.0.1:9", writable=True)
        ElasticsearchAdmin(store)
        assert type(store).__name__ == "ElasticsearchStore"  # made, no request sent
        """,
    )
    assert imported == ["elastic_transport", "elasticsearch"]


def test_tantivy_needs_no_elasticsearch_and_no_kafka(tmp_path):
    imported = run_without(
        ("elasticsearch", "elastic_transport", "kafka"),
        f"""
        from newsagg.core.adapters import open_store
        store = open_store("tantivy:///{tmp_path}/index", writable=True)
        store.ensure_schema()
        assert store.count() == 0
        store.close()
        """,
    )
    assert imported == ["tantivy"]


def test_kafka_needs_no_store_engine():
    imported = run_without(
        ("tantivy", "elasticsearch", "elastic_transport"),
        """
        from newsagg.core.adapters import open_bus
        open_bus("kafka://127.0.0.1:9").close()  # clients are made on first use
        """,
    )
    assert imported == ["kafka"]


def test_a_missing_extra_is_a_clear_error_naming_it(tmp_path):
    for url, extra in (
        (f"tantivy:///{tmp_path}/index", "tantivy"),
        ("http://127.0.0.1:9", "elasticsearch"),
        ("kafka://127.0.0.1:9", "kafka"),
    ):
        opener = "open_bus(url)" if extra == "kafka" else "open_store(url, writable=False)"
        run_without(
            ENGINES,
            f"""
            from newsagg.core.adapters import EngineNotInstalled, open_bus, open_store
            url = {url!r}
            try:
                {opener}
            except ValueError as exc:  # a configuration error, as a bad URL is
                assert isinstance(exc, EngineNotInstalled), repr(exc)
                assert "newsagg-core[{extra}]" in str(exc), str(exc)
                assert url in str(exc), str(exc)
            else:
                raise AssertionError("opened without its engine")
            """,
        )


def test_the_adapters_import_no_cycle():
    """Every import between adapter modules, TYPE_CHECKING ones too, points one way."""
    graph: dict[str, set[str]] = {}
    for path in ADAPTERS.glob("*.py"):
        imports = graph.setdefault(path.stem, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                name = node.module.removeprefix("newsagg.core.adapters.")
                if name != node.module:
                    imports.add(name)
    del graph["__init__"]  # the opener imports the adapters, and they not it

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(
            step == goal or (step not in seen and reaches(step, goal, seen | {step}))
            for step in graph.get(start, ())
        )

    assert [module for module in graph if reaches(module, module, set())] == []
