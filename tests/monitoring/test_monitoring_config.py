"""deploy/prometheus and deploy/grafana as files: promtool accepts the config and the rules,
every alert has a promtool test that fires it and one that keeps it quiet, every alert links
to its runbook section, and the committed dashboard JSON is what its generator writes."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml
from support.prometheus import (
    CONFIG,
    DASHBOARD,
    JOBS,
    ROOT,
    RULE_TESTS,
    RULES,
    alert_rules,
    anchor,
    dashboard_generator,
    dashboard_queries,
    tool,
)

MONITORING_DOC = ROOT / "docs" / "monitoring.md"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("promtool"), *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_promtool_checks_the_rules():
    done = promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in done.stdout


def test_promtool_rule_tests_pass():
    done = promtool("test", "rules", str(RULE_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_promtool_checks_the_scrape_config():
    done = promtool("check", "config", str(CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr
    jobs = [job["job_name"] for job in yaml.safe_load(CONFIG.read_text())["scrape_configs"]]
    assert sorted(jobs) == sorted(JOBS)


def test_promtool_sees_a_broken_rule(tmp_path):
    """The check above can fail: a rule with a bad expression is refused."""
    broken = tmp_path / "broken.rules.yml"
    broken.write_text(
        "groups:\n- name: x\n  rules:\n  - alert: Broken\n    expr: sum(rate(x[5m])\n"
    )
    assert promtool("check", "rules", str(broken)).returncode != 0


def test_every_alert_has_a_firing_and_a_quiet_promtool_case():
    cases = [
        case
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    ]
    fires = {c["alertname"] for c in cases if c["exp_alerts"]}
    quiet = {c["alertname"] for c in cases if not c["exp_alerts"]}
    assert set(alert_rules()) - fires == set()
    assert set(alert_rules()) - quiet == set()


@pytest.mark.parametrize("name", sorted(alert_rules()))
def test_each_alert_has_severity_annotations_and_a_runbook_section(name: str):
    rule = alert_rules()[name]
    assert rule["labels"]["severity"] in {"critical", "warning"}
    assert {"summary", "description", "runbook_url"} <= set(rule["annotations"])
    page, _, section = rule["annotations"]["runbook_url"].partition("#")
    assert page == "docs/monitoring.md"
    headings = [
        anchor(line.lstrip("#"))
        for line in MONITORING_DOC.read_text().splitlines()
        if line.startswith("#")
    ]
    assert section in headings


def test_the_committed_dashboard_is_what_the_generator_writes():
    assert DASHBOARD.read_text() == dashboard_generator().render(), (
        "run `.venv/bin/python deploy/grafana/dashboard.py` and commit the JSON"
    )


def test_the_dashboard_has_the_five_rows_and_queries_only_newsagg_metrics():
    board = json.loads(DASHBOARD.read_text())
    rows = [p["title"] for p in board["panels"] if p["type"] == "row"]
    assert rows == ["Pipeline overview", "Sources", "API", "Store", "Alerts"]
    ids = [p["id"] for p in board["panels"]]
    assert len(set(ids)) == len(ids)
    panels = [p for p in board["panels"] if p["type"] != "row"]
    assert all(p["options"] for p in panels), "every panel has its options, not null"
    for panel in panels:
        renamed = {
            new
            for t in panel["transformations"]
            if t["id"] == "organize"
            for new in t["options"]["renameByName"].values()
        }
        overridden = {o["matcher"]["options"] for o in panel["fieldConfig"]["overrides"]}
        assert overridden <= renamed, "overrides name the columns as organize renamed them"
    for title, expr in dashboard_queries():
        assert "newsagg_" in expr or expr.startswith("up{"), (title, expr)
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert set(variables) == {"datasource", "source"}
