"""newsagg's services as separate processes over one data directory, as a user runs them.

The one pipeline harness of the suites that start the whole thing: the embedded defaults
(tests/e2e), Kafka (NEWSAGG_BUS_URL), Elasticsearch (NEWSAGG_STORE_URL), and `newsagg demo`
under the browser tests (`commands=("demo",)`). Starting it crawls the demo sites, which
takes a while: fixtures hold one per module, and tests that change it start their own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from newsagg.core.adapters import open_bus
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.ports import Bus

from support.servers import Service, free_port, get_json, wait_until

SERVICES = ("crawl", "index", "api")
INDEXING_TIMEOUT = 180.0
READER_RELOAD = TantivyStore.__init__.__kwdefaults__["reload_interval"]
"""Seconds an API worker's reader is used before it reloads (TantivyStore's default)."""
"""Seconds for the demo's articles (61) to be crawled and indexed on a busy 2-core machine."""


def pipeline_env(
    data_dir: Path,
    *,
    sources: str | None = None,
    bus_url: str | None = None,
    store_url: str | None = None,
    api_port: int = 0,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of every service of one pipeline: its data dir, its sources.yaml (if
    given), its bus and store (the embedded ones unless given), an API port of its own, and
    metrics on ephemeral ports so pipelines never collide."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        "NEWSAGG_DATA_DIR": str(data_dir),
        "NEWSAGG_API_PORT": str(api_port or free_port()),
        "NEWSAGG_CRAWLER_METRICS_PORT": "0",
        "NEWSAGG_INDEXER_METRICS_PORT": "0",
    }
    if sources is not None:
        (data_dir / "sources.yaml").write_text(sources)
        env["NEWSAGG_SOURCES"] = str(data_dir / "sources.yaml")
    if bus_url is not None:
        env["NEWSAGG_BUS_URL"] = bus_url
    if store_url is not None:
        env["NEWSAGG_STORE_URL"] = store_url
    return {**env, **(extra or {})}


class Pipeline:
    """`newsagg <command>` for each of `commands`, sharing `env`, and the API they serve."""

    def __init__(
        self, env: dict[str, str], log_dir: Path, commands: tuple[str, ...] = SERVICES
    ) -> None:
        self.env = env
        self.log_dir = log_dir
        self.data_dir = Path(env["NEWSAGG_DATA_DIR"])
        self.url = f"http://127.0.0.1:{env['NEWSAGG_API_PORT']}"
        self.services = {name: Service([name], env, log_dir) for name in commands}

    def get(self, path: str, **params: str | int) -> tuple[int, Any]:
        query = urllib.parse.urlencode(params)
        return get_json(f"{self.url}{path}{'?' + query if query else ''}")

    def api(self, path: str, **params: str | int) -> Any:
        """The body of a GET that must answer 200."""
        status, body = self.get(path, **params)
        assert status == 200, (path, body)
        return body

    def indexed(self) -> int:
        """Articles in the index, as the API's readiness probe counts them (0 until ready)."""
        status, body = self.get("/readyz")
        return body.get("articles") or 0 if status == 200 else 0

    def wait_indexed(self, count: int, timeout: float = INDEXING_TIMEOUT) -> None:
        """Until one API worker counts `count`, then past the readers' reload interval: the
        API's other worker may have reloaded a batch earlier (CI read 42 of 66 right after),
        and each reloads before answering once its reader is older than that."""
        wait_until(lambda: self.indexed() >= count, timeout, f"{count} articles indexed")
        time.sleep(2 * READER_RELOAD)

    def newsagg(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A one-off `newsagg` command (status, replay, ...) on this pipeline's settings."""
        return subprocess.run(
            [sys.executable, "-m", "newsagg.cli.main", *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def status(self) -> dict:
        """`newsagg status --json`; exit 1 (something unhealthy) still reports, 2+ is an error."""
        done = self.newsagg("status", "--json")
        assert done.returncode in (0, 1), done.stderr
        return json.loads(done.stdout)

    def bus(self) -> Bus:
        """The pipeline's bus, opened from this process; the caller closes it."""
        default = f"sqlite:///{self.data_dir / 'bus.sqlite'}"
        return open_bus(self.env.get("NEWSAGG_BUS_URL", default))

    def logs(self, last: int = 4000) -> str:
        return "\n".join(f"--- {name}\n{s.log()[-last:]}" for name, s in self.services.items())

    def stop(self) -> None:
        for service in self.services.values():
            service.stop()


@contextmanager
def indexed_pipeline(
    pipeline: Pipeline, articles: int, timeout: float = INDEXING_TIMEOUT
) -> Iterator[Pipeline]:
    """The pipeline once `articles` are indexed, stopped afterwards; if they never are, the
    failure carries the services' logs."""
    try:
        try:
            pipeline.wait_indexed(articles, timeout)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{pipeline.logs()}") from None
        yield pipeline
    finally:
        pipeline.stop()
