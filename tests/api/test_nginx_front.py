"""deploy/nginx/newsagg.conf in front of the API: slow clients are cut off by nginx, and the
API counts each real client (nginx's X-Forwarded-For), never one a client made up.

Debian's nginx runs it (`make test` installs it when /usr/sbin/nginx is missing)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from newsagg.core.settings import Settings
from support.live_api import LiveApi, serve
from support.servers import free_port, wait_until

CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "newsagg.conf"
SLOW_CLIENTS = CONF.parent / "slow_clients.py"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.fixture
def fronted(tmp_path: Path) -> Iterator[tuple[LiveApi, int]]:
    """(the API, nginx's port): the example config with only its two addresses changed."""
    settings = Settings(api_trusted_proxies="127.0.0.1", api_rate_limit=0.001, api_rate_burst=3)
    with contextmanager(serve)(settings) as api:
        port = free_port()
        conf = CONF.read_text()
        assert "127.0.0.1:8000;" in conf
        assert "listen 127.0.0.1:8080;" in conf
        conf = conf.replace("127.0.0.1:8000;", f"127.0.0.1:{api.port};")
        conf = conf.replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{port};")
        (tmp_path / "tmp").mkdir()
        (tmp_path / "nginx.conf").write_text(conf)
        nginx = subprocess.Popen(
            [NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"]
        )
        try:
            wait_until(lambda: api("/healthz", port=port) == 200, 20, "nginx to proxy")
            yield api, port
        finally:
            nginx.terminate()
            nginx.wait(timeout=20)


@pytest.mark.slow  # waits out nginx's timeout on 300 half-sent requests: 12 s
def test_nginx_closes_half_sent_requests_and_the_api_stays_up(fronted: tuple[LiveApi, int]):
    api, port = fronted
    measured = subprocess.run(
        [sys.executable, str(SLOW_CLIENTS), "127.0.0.1", str(port), "300", "12"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "still holds 0 of 300 open" in measured.stdout, measured.stdout
    assert api("/healthz", port=port) == 200


def test_through_nginx_a_made_up_x_forwarded_for_does_not_escape_the_limit(
    fronted: tuple[LiveApi, int],
):
    api, port = fronted
    answers = [api(port=port, **{"X-Forwarded-For": f"203.0.113.{n}"}) for n in range(4)]
    assert answers == [404, 404, 404, 429]
