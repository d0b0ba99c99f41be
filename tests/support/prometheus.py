"""A real Prometheus (Debian's `prometheus` package, installed by `make prometheus`) for the
monitoring tests: started on a free loopback port with its own TSDB directory, scraping and
evaluating every second, and the PromQL in deploy/prometheus and deploy/grafana."""

from __future__ import annotations

import importlib.util
import json
import math
import re
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from support.servers import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULES = PROMETHEUS_DIR / "rules" / "newsagg.rules.yml"
RULE_TESTS = PROMETHEUS_DIR / "tests" / "newsagg.rules.test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "newsagg.json"
GENERATOR = ROOT / "deploy" / "grafana" / "dashboard.py"
JOBS = ("newsagg-crawler", "newsagg-indexer", "newsagg-api", "newsagg-alerts")


def tool(name: str) -> str:
    """The path of `prometheus` or `promtool`; missing, a failure that says how to get it
    (never a skip: CI must run these tests)."""
    found = shutil.which(name) or (
        f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
    )
    if found is None:
        raise AssertionError(f"no {name} on PATH: run `make prometheus` (Debian's prometheus)")
    return found


def dashboard_generator() -> ModuleType:
    """deploy/grafana/dashboard.py, loaded by path (deploy/ is not a package)."""
    spec = importlib.util.spec_from_file_location("newsagg_dashboard", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def alert_rules() -> dict[str, dict[str, Any]]:
    """Every alerting rule of deploy/prometheus/rules, by alert name."""
    rules: dict[str, dict[str, Any]] = {}
    for path in sorted((PROMETHEUS_DIR / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    rules[rule["alert"]] = rule
    return rules


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, expr) of every Prometheus query in the committed dashboard JSON."""
    board = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"])
        for panel in board["panels"]
        for target in panel.get("targets", [])
    ]


def substitute(expr: str, sources: str, window: str) -> str:
    """The expression as Grafana sends it: `$source` as a multi-value regex, the rate and
    range windows as `window` (a dashboard range covering the whole run)."""
    expr = expr.replace("$__rate_interval", window).replace("$__range", window)
    expr = expr.replace("$source", sources)
    assert "$" not in expr, f"an unsubstituted variable in {expr}"
    return expr


class Prometheus:
    """One Prometheus process scraping `targets` ({job: "host:port"}) every second, with the
    committed scrape config's jobs and rule files."""

    def __init__(self, root: Path, targets: dict[str, str]) -> None:
        config = yaml.safe_load(CONFIG.read_text())
        jobs = {job["job_name"]: job for job in config["scrape_configs"]}
        assert set(jobs) == set(targets), "the committed scrape jobs are the services"
        for name, job in jobs.items():
            job["static_configs"] = [{"targets": [targets[name]]}]
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        config["rule_files"] = [str(PROMETHEUS_DIR / pattern) for pattern in config["rule_files"]]
        root.mkdir(parents=True, exist_ok=True)
        self.config_path = root / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = root / "prometheus.log"
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                tool("prometheus"),
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={root / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_until(self._ready, 60, f"Prometheus to be ready (log: {self.log_path})")
        # Ready is not scraping: Prometheus applies its targets up to 5 s after it starts.
        # A pipeline started before that can index everything unseen, and every rate and
        # increase of the run is then 0 (an `up` sample, 0 or 1, means the loops run).
        wait_until(
            lambda: len(self.query("up")) == len(targets),
            60,
            f"Prometheus to scrape every target once (log: {self.log_path})",
        )

    def _ready(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
            return response.status == 200

    def api(self, path: str, **params: str) -> Any:
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=30) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector `expr` evaluates to now (a scalar as a one-element vector)."""
        data = self.api("query", query=expr)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    def values(self, expr: str) -> list[float]:
        return [float(sample["value"][1]) for sample in self.query(expr)]

    def targets_up(self) -> dict[str, str]:
        """{job: health} of the active targets."""
        return {t["labels"]["job"]: t["health"] for t in self.api("targets")["activeTargets"]}

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def finite(values: list[float]) -> list[float]:
    return [v for v in values if not math.isnan(v) and not math.isinf(v)]


def anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
