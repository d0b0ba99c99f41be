"""The demo outlets keep their ports in the data directory, so their URLs (and ids) stay."""

from __future__ import annotations

import contextlib
import json
import socket
from pathlib import Path

import pytest

from newsagg.cli.demo_site import OUTLETS, PORTS_FILE, DemoSites


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


def free_ports_in_a_row(count: int) -> int:
    """A port whose next `count - 1` are free too (each further outlet takes the next):
    any free port alone made this test fail whenever a neighbour was in use."""
    for _ in range(50):
        with contextlib.ExitStack() as held:
            first = held.enter_context(socket.socket())
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            try:
                for offset in range(1, count):
                    held.enter_context(socket.socket()).bind(("127.0.0.1", port + offset))
            except OSError:
                continue
            return port
    raise AssertionError(f"no {count} consecutive free ports on 127.0.0.1")


def test_ports_the_user_gives_win_and_are_kept(tmp_path: Path):
    (tmp_path / PORTS_FILE).write_text(json.dumps({"marquee-daily": 1, "reel-news": 2}))
    first_port = free_ports_in_a_row(len(OUTLETS))
    sites = DemoSites.kept_in(tmp_path, first_port)
    sites.stop()
    assert sites.ports == {o.source: first_port + n for n, o in enumerate(OUTLETS)}
    assert json.loads((tmp_path / PORTS_FILE).read_text()) == sites.ports
