"""`newsagg up` and `newsagg demo`: ports that never collide with the user's programs, the demo's
data kept apart, and one "is up" banner with every address."""

from __future__ import annotations

import errno
import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from newsagg.core.settings import Settings

from newsagg.cli import main as cli
from newsagg.cli.demo_site import PORTS_FILE
from newsagg.cli.supervisor import SERVICES

SOURCES = "sources:\n  - name: example\n    feeds: [https://news.example.com/rss.xml]\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_taken_metrics_port_is_one_clear_error_naming_the_variable(taken_port: int):
    settings = Settings(api_port=free_port(), crawler_metrics_port=taken_port)
    with pytest.raises(ValueError, match=rf"port {taken_port} .*set NEWSAGG_CRAWLER_METRICS_PORT"):
        cli._claim_ports(settings, {}, choose_free=False)


def test_up_runs_the_alerts_worker_and_checks_its_metrics_port(taken_port: int):
    assert SERVICES == ("crawl", "index", "alerts", "api")
    settings = Settings(api_port=free_port(), crawler_metrics_port=0, indexer_metrics_port=0)
    taken = settings.model_copy(update={"alerts_metrics_port": taken_port})
    with pytest.raises(ValueError, match=rf"port {taken_port} .*set NEWSAGG_ALERTS_METRICS_PORT"):
        cli._claim_ports(taken, {}, choose_free=False)


def test_up_refuses_a_taken_port_before_starting_anything(
    taken_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    (tmp_path / "sources.yaml").write_text(SOURCES)
    monkeypatch.setenv("NEWSAGG_SOURCES", str(tmp_path / "sources.yaml"))
    monkeypatch.setenv("NEWSAGG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NEWSAGG_API_PORT", str(free_port()))
    monkeypatch.setenv("NEWSAGG_INDEXER_METRICS_PORT", str(taken_port))
    monkeypatch.setattr("newsagg.cli.supervisor.Supervisor.run", pytest.fail)
    assert cli.main(["up"]) == 2
    assert "set NEWSAGG_INDEXER_METRICS_PORT" in capsys.readouterr().err


def test_the_demo_swaps_a_taken_default_port_for_a_free_one(taken_port: int):
    settings = Settings(api_port=taken_port, crawler_metrics_port=taken_port)
    chosen, env = cli._claim_ports(settings, {}, choose_free=True)
    assert chosen.api_port != taken_port
    assert chosen.crawler_metrics_port != taken_port
    assert env["NEWSAGG_API_PORT"] == str(chosen.api_port)
    assert env["NEWSAGG_CRAWLER_METRICS_PORT"] == str(chosen.crawler_metrics_port)
    assert chosen.indexer_metrics_port == settings.indexer_metrics_port


def test_the_demo_never_changes_a_port_the_user_set(taken_port: int):
    settings = Settings(api_port=taken_port)
    with pytest.raises(ValueError, match="set NEWSAGG_API_PORT"):
        cli._claim_ports(settings, {"NEWSAGG_API_PORT": str(taken_port)}, choose_free=True)


def test_the_banner_names_every_address():
    settings = Settings(
        api_port=8123, crawler_metrics_port=9201, indexer_metrics_port=0, alerts_metrics_port=9205
    )
    banner = cli._banner(settings, 1, "Milind Soman cycling")
    assert "newsagg is up: 1 article indexed so far." in banner
    assert "Search page: http://127.0.0.1:8123/?q=Milind+Soman+cycling" in banner
    assert "Search API:  http://127.0.0.1:8123/v1/search?q=Milind+Soman+cycling" in banner
    assert "API docs:    http://127.0.0.1:8123/docs" in banner
    assert "crawler http://127.0.0.1:9201/metrics" in banner
    assert "indexer off (NEWSAGG_INDEXER_METRICS_PORT=0)" in banner
    assert "alerts  http://127.0.0.1:9205/metrics" in banner
    assert "2 articles" in cli._banner(settings, 2, None)


class _Ready(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"status": "ok", "articles": 0}).encode()
        self.send_response(200 if self.path == "/readyz" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_up_prints_the_banner_once_the_api_is_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    """Its services are an API stand-in that answers /readyz: up prints the demo's banner."""
    port = free_port()

    def run(self: object, on_tick: Callable[[], None]) -> int:
        api = ThreadingHTTPServer(("127.0.0.1", port), _Ready)
        threading.Thread(target=api.serve_forever, daemon=True).start()
        try:
            for _ in range(3):
                on_tick()
        finally:
            api.shutdown()
            api.server_close()
        return 0

    (tmp_path / "sources.yaml").write_text(SOURCES)
    monkeypatch.setenv("NEWSAGG_SOURCES", str(tmp_path / "sources.yaml"))
    monkeypatch.setenv("NEWSAGG_API_PORT", str(port))
    monkeypatch.setenv("NEWSAGG_CRAWLER_METRICS_PORT", "0")
    monkeypatch.setenv("NEWSAGG_INDEXER_METRICS_PORT", "0")
    monkeypatch.setattr("newsagg.cli.supervisor.Supervisor.run", run)
    assert cli.main(["up"]) == 0
    out = capsys.readouterr().out
    assert out.count("newsagg is up: 0 articles indexed so far.") == 1
    assert f"Search page: http://127.0.0.1:{port}/" in out
    assert f"api http://127.0.0.1:{port}/metrics" in out


def test_the_demo_keeps_its_data_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Bus, index, crawl state, sources and site ports all under <data_dir>/demo/."""
    seen: dict[str, object] = {}

    def up(settings: Settings, env: dict[str, str], **kwargs: object) -> int:
        seen.update(settings=settings, env=env)
        return 0

    monkeypatch.setattr(cli, "_up", up)
    data = tmp_path / "data"
    assert cli._demo(Settings(data_dir=data), 0) == 0
    demo = data / "demo"
    assert sorted(p.name for p in data.iterdir()) == ["demo"]
    assert (demo / PORTS_FILE).is_file()
    assert (demo / "demo-sources.yaml").is_file()
    settings = seen["settings"]
    assert isinstance(settings, Settings)
    assert settings.resolved_bus_url == f"sqlite:///{demo / 'bus.sqlite'}"
    assert settings.resolved_store_url == f"tantivy:///{demo / 'index'}"
    assert settings.crawl_state_path == demo / "crawler-state.sqlite"
    env = seen["env"]
    assert isinstance(env, dict)
    assert env["NEWSAGG_DATA_DIR"] == str(demo)
    assert env["NEWSAGG_SOURCES"] == str(demo / "demo-sources.yaml")


def test_metrics_ports_are_checked_on_the_metrics_host():
    """NEWSAGG_METRICS_HOST is where the crawler and indexer bind, so where `up` checks."""
    with socket.socket() as other:
        other.bind(("127.0.0.2", 0))
        other.listen()
        port = other.getsockname()[1]
        settings = Settings(api_port=free_port(), crawler_metrics_port=port, indexer_metrics_port=0)
        cli._claim_ports(
            settings.model_copy(update={"metrics_host": "127.0.0.1"}), {}, choose_free=False
        )
        elsewhere = settings.model_copy(update={"metrics_host": "127.0.0.2"})
        with pytest.raises(ValueError, match=rf"port {port} .* on 127\.0\.0\.2 is taken"):
            cli._claim_ports(elsewhere, {}, choose_free=False)


def test_the_banner_names_a_reachable_metrics_address_when_bound_to_all():
    settings = Settings(api_port=8123, crawler_metrics_port=9201, metrics_host="0.0.0.0")
    assert "crawler http://127.0.0.1:9201/metrics" in cli._banner(settings, 0, None)


def test_a_metrics_host_this_machine_cannot_listen_on_names_its_variable(
    monkeypatch: pytest.MonkeyPatch,
):
    """EADDRNOTAVAIL (another machine's address, as the kernel answers it) is not 'taken'."""

    class ElsewhereSocket(socket.socket):
        def bind(self, address: object) -> None:
            raise OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address")

    monkeypatch.setattr(cli.socket, "socket", ElsewhereSocket)
    settings = Settings(api_port=0, crawler_metrics_port=9101, indexer_metrics_port=0)
    with pytest.raises(ValueError, match=r"127\.0\.0\.1:9101 .*set NEWSAGG_METRICS_HOST"):
        cli._claim_ports(settings, {}, choose_free=False)
