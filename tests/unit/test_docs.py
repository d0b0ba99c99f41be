"""README.md and docs/*.md describe only what exists: every setting, repo path, make target and
`newsagg` sub-command they name is real, and every setting is documented."""

from __future__ import annotations

import fnmatch
import re
import subprocess
from pathlib import Path

import pytest
from newsagg.core.settings import Settings

from newsagg.cli.main import _parser

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TRACKED_ROOTS = {
    line.split("/")[0]
    for line in subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
}
"""Top-level names under version control: a path starting with one is a claim about the repo
(`data/`, `.cache/` and `test-artifacts/` are made at run time and are not claims)."""

CODE_SPAN = re.compile(r"`([^`]+)`")
LINK_TARGET = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)
SHELL_FENCE = re.compile(r"^```(?:bash|sh|console)\n(.*?)^```", re.M | re.S)


def _spans(text: str) -> list[str]:
    """Inline code, the lines of fenced blocks, and their whitespace-separated words."""
    prose = FENCE.sub("", text)
    spans = CODE_SPAN.findall(prose)
    for block in FENCE.findall(text):
        spans.extend(line for line in block.splitlines() if line.strip())
    return spans


def _commands(text: str) -> list[str]:
    """What a reader would type: inline code and the lines of shell blocks (not output)."""
    lines = CODE_SPAN.findall(FENCE.sub("", text))
    for block in SHELL_FENCE.findall(text):
        lines.extend(block.splitlines())
    return [line.strip() for line in lines if line.strip()]


def _words(text: str) -> list[str]:
    return [w.strip("'\",;:()`") for span in _spans(text) for w in span.split()]


def _repo_paths(doc: Path) -> set[tuple[Path, str]]:
    """(base directory, path) of every repo path the document names in code or links."""
    text = doc.read_text()
    found: set[tuple[Path, str]] = set()
    for target in LINK_TARGET.findall(text):
        if "://" not in target and not target.startswith("mailto:"):
            found.add((doc.parent, target))
    for word in _words(text):
        word = word.rstrip(".")
        first = word.split("/")[0]
        if first in TRACKED_ROOTS and "://" not in word and not word.startswith("/"):
            found.add((ROOT, word))
    return found


def _exists(base: Path, path: str) -> bool:
    if any(c in path for c in "*?["):
        return any(base.glob(path))
    return (base / path).exists()


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_every_named_repo_path_exists(doc: Path) -> None:
    missing = sorted(str(path) for base, path in _repo_paths(doc) if not _exists(base, path))
    assert missing == []


COMMAND = r"(\$ )?(\.venv/bin/|make |python|newsagg |curl |[A-Z_]+=\S+ )"


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_no_path_outside_the_repository(doc: Path) -> None:
    """A command a reader copies must work from a clone: nothing beside it is promised."""
    commands = [c for c in _commands(doc.read_text()) if re.match(COMMAND, c)]
    outside = sorted({c for c in commands if "../" in c})
    assert outside == []


DEPLOYMENT_FILES = {
    r"docker[- ]compose": "docker-compose.yml",
    r"Dockerfile": "*Dockerfile",
    r"\bk8s\b|Kubernetes": "deploy/k8s/*.yaml",
    r"Helm": "*Chart.yaml",
    r"Grafana": "deploy/grafana/*",
    r"prometheus/": "deploy/prometheus/*",
}
"""What a document may name (case-insensitive) only once such a file is in the work tree."""
WORK_TREE = subprocess.run(
    ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
    cwd=ROOT,
    capture_output=True,
    text=True,
    check=True,
).stdout.splitlines()


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_no_deployment_files_that_are_not_there(doc: Path) -> None:
    """Compose, Dockerfiles, Kubernetes manifests, charts and dashboards: a document describes
    each kind only once its files are in the repository."""
    text = doc.read_text()
    missing = [
        pattern
        for pattern, files in DEPLOYMENT_FILES.items()
        if re.search(pattern, text, re.I) and not fnmatch.filter(WORK_TREE, files)
    ]
    assert missing == []


def _make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w.-]*):(?!=)", makefile, re.M))


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_every_make_target_named_exists(doc: Path) -> None:
    named = {
        m.group(1)
        for span in _spans(doc.read_text())
        for m in re.finditer(r"\bmake ([a-z][\w-]*)", span)
    }
    assert named - _make_targets() == set()


def _subcommands() -> set[str]:
    parser = _parser()
    (commands,) = (a for a in parser._actions if a.dest == "command")
    return set(commands.choices)


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_every_newsagg_subcommand_named_exists(doc: Path) -> None:
    named = {
        m.group(1)
        for line in _commands(doc.read_text())
        for m in re.finditer(r"^(?:\$ |\.venv/bin/)?newsagg ([a-z][\w-]*)", line)
    }
    assert named - _subcommands() == set()


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_every_setting_named_exists(doc: Path) -> None:
    known = {f"NEWSAGG_{name.upper()}" for name in Settings.model_fields}
    test_only = {"NEWSAGG_TEST_KAFKA_URL", "NEWSAGG_TEST_ES_URL", "NEWSAGG_TEST_CHROMIUM"}
    bench_only = {"NEWSAGG_BENCH_RESULTS"}  # bench/_report.py's RESULTS_ENV
    named = set(re.findall(r"\bNEWSAGG_[A-Z0-9_]*[A-Z0-9]\b", doc.read_text()))
    prefixes = {n for n in named if any(k.startswith(n + "_") for k in known)}
    assert named - known - test_only - bench_only - prefixes == set()


def test_every_setting_is_documented():
    missing = [
        f"NEWSAGG_{name.upper()}"
        for name in Settings.model_fields
        if f"`NEWSAGG_{name.upper()}`" not in README
    ]
    assert missing == []


def test_readme_names_the_two_main_commands():
    assert "make demo" in README
    assert "make test" in README


def test_the_checker_sees_a_missing_path(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text("See `deploy/k8s/missing.yaml` and [compose](../docker-compose.yml).\n")
    missing = {p for base, p in _repo_paths(doc) if not _exists(base, p)}
    assert missing == {"deploy/k8s/missing.yaml", "../docker-compose.yml"}
