"""The demo outlets keep their ports in the data directory, so their URLs (and ids) stay."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from newsagg.cli.demo_site import PORTS_FILE, DemoSites


def test_a_second_start_serves_each_outlet_on_the_port_it_had(tmp_path: Path):
    first = DemoSites.kept_in(tmp_path)
    urls = [site.url for site in first.sites]
    first.stop()
    assert json.loads((tmp_path / PORTS_FILE).read_text()) == first.ports
    again = DemoSites.kept_in(tmp_path)
    try:
        assert [site.url for site in again.sites] == urls
    finally:
        again.stop()


def test_a_taken_port_is_a_clear_error_not_a_new_port(tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        (tmp_path / PORTS_FILE).write_text(json.dumps({"marquee-daily": port}))
        with pytest.raises(ValueError, match=r"port is taken.*another NEWSAGG_DATA_DIR"):
            DemoSites.kept_in(tmp_path)
    assert json.loads((tmp_path / PORTS_FILE).read_text()) == {"marquee-daily": port}


@pytest.mark.parametrize("damaged", ["{", "[1, 2]", '{"marquee-daily": "80"}', '{"a": 70000}'])
def test_a_damaged_ports_file_says_what_to_do(tmp_path: Path, damaged: str):
    (tmp_path / PORTS_FILE).write_text(damaged)
    with pytest.raises(ValueError, match="delete the data directory for a fresh demo"):
        DemoSites.kept_in(tmp_path)


def two_free_ports() -> int:
    """A port whose next one is free too (the second outlet takes it): any free port
    alone made this test fail whenever its neighbour was in use."""
    for _ in range(50):
        with socket.socket() as first, socket.socket() as second:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise AssertionError("no two consecutive free ports on 127.0.0.1")


def test_ports_the_user_gives_win_and_are_kept(tmp_path: Path):
    (tmp_path / PORTS_FILE).write_text(json.dumps({"marquee-daily": 1, "reel-news": 2}))
    first_port = two_free_ports()
    sites = DemoSites.kept_in(tmp_path, first_port)
    sites.stop()
    assert sites.ports == {"marquee-daily": first_port, "reel-news": first_port + 1}
    assert json.loads((tmp_path / PORTS_FILE).read_text()) == sites.ports
