"""`newsagg status` on real durable state (crawl state, tantivy index, SQLite bus) with the
services down: per-source health, lag, dead letters, the verdict and its exit code."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from newsagg.core.adapters import open_bus, open_store
from newsagg.core.article import Article
from newsagg.core.ports import ARTICLES_TOPIC, dead_letter_topic
from newsagg.core.settings import Settings
from newsagg.crawler.state import CrawlState

from newsagg.cli import status as cli_status
from newsagg.cli.main import main

SOURCES = """sources:
  - name: fresh
    feeds: [https://fresh.example/rss.xml]
    interval: 900
  - name: stale
    feeds: [https://stale.example/rss.xml]
    interval: 600
  - name: never
    feeds: [https://never.example/rss.xml]
"""


def article(n: int, source: str, crawled_at: datetime) -> Article:
    return Article.create(
        url=f"https://{source}.example/{n}",
        source=source,
        title=f"Story {n}",
        text=f"Body of story {n}.",
        crawled_at=crawled_at,
    )


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Sources, a crawl state, an index and a bus as the services leave them."""
    for name in ("NEWSAGG_BUS_URL", "NEWSAGG_STORE_URL"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "sources.yaml").write_text(SOURCES)
    monkeypatch.setenv("NEWSAGG_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("NEWSAGG_SOURCES", str(tmp_path / "sources.yaml"))
    settings = Settings()
    state = CrawlState(settings.crawl_state_path)
    state.record_pass("fresh", 0, time.time() - 60)
    state.record_pass("stale", 3, time.time() - 3 * 3600)
    state.record_pass("stale", 2, None)  # a later pass with no success keeps the old one
    state.close()
    now = datetime.now(UTC)
    store = open_store(settings.resolved_store_url, writable=True)
    store.ensure_schema()
    store.upsert(
        [
            article(1, "fresh", now),
            article(2, "fresh", now),
            article(3, "stale", now - timedelta(days=2)),
        ]
    )
    store.close()
    bus = open_bus(settings.resolved_bus_url)
    for n in range(3):
        bus.publish(ARTICLES_TOPIC, str(n), b"{}")
    bus.publish(dead_letter_topic(ARTICLES_TOPIC), "bad", b"not json")
    bus.close()
    return tmp_path


def test_status_reads_every_source_s_health_lag_and_dead_letters(data: Path):
    status = cli_status.gather(Settings())
    health = {source.name: source for source in status.sources}
    assert health["fresh"].healthy
    assert health["fresh"].articles_today == 2
    assert health["fresh"].errors_last_pass == 0
    assert health["stale"].errors_last_pass == 2
    assert health["stale"].articles_today == 0
    assert health["stale"].last_success is not None
    assert health["stale"].problem == "no successful poll for 3 h (polled every 10 min)"
    assert health["never"].problem == "never polled"
    assert status.bus.lag == {0: 3}
    assert status.bus.dead_letters == 1
    assert status.store.documents == 3
    assert status.problems == [
        "source stale: no successful poll for 3 h (polled every 10 min)",
        "source never: never polled",
    ]


def test_json_and_exit_code_name_what_is_unhealthy(data: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["status", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["healthy"] is False
    assert [s["name"] for s in report["sources"] if not s["healthy"]] == ["stale", "never"]
    assert report["bus"]["lag"] == {"0": 3}
    assert report["bus"]["lag_total"] == 3
    assert report["bus"]["dead_letters"] == 1
    assert report["sources"][0]["articles_today"] == 2
    assert report["sources"][0]["last_success"].endswith("+00:00")


def test_plain_output_off_a_terminal(data: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["status"]) == 1
    out = capsys.readouterr().out
    assert "\x1b[" not in out
    lines = out.splitlines()
    assert lines[0].split() == [
        "source", "last", "success", "errors", "(last", "pass)", "articles", "today", "(UTC)",
        "health",
    ]  # fmt: skip
    fresh = next(line for line in lines if line.startswith("fresh"))
    assert fresh.endswith("ok")
    assert "(1 min ago)" in fresh
    assert "never  " in next(line for line in lines if line.startswith("never"))
    assert "lag 3 (per partition 0: 3); dead letters in 'articles.dlq': 1" in out
    assert "store tantivy:///" in out
    assert lines[-1].startswith("unhealthy: 2 problem(s): source stale: no successful poll")


def test_colour_at_a_terminal(data: Path):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    assert cli_status.print_status(Settings(), out=out) == 1
    text = out.getvalue()
    assert "\x1b[" in text  # rich's colours
    assert "UNHEALTHY" in text
    assert "never polled" in text


def test_healthy_when_every_source_answered_lately(data: Path, capsys: pytest.CaptureFixture[str]):
    (data / "sources.yaml").write_text(SOURCES.split("  - name: stale")[0])
    assert main(["status"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "healthy"


def test_a_new_data_dir_is_unhealthy_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    for name in ("NEWSAGG_BUS_URL", "NEWSAGG_STORE_URL"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "sources.yaml").write_text(SOURCES)
    data = tmp_path / "data"
    monkeypatch.setenv("NEWSAGG_DATA_DIR", str(data))
    monkeypatch.setenv("NEWSAGG_SOURCES", str(tmp_path / "sources.yaml"))
    assert main(["status", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["bus"]["error"].startswith("no log at")
    assert report["store"]["error"].startswith("no index at")
    assert {s["problem"] for s in report["sources"]} == {"never polled"}
    assert not data.exists()
