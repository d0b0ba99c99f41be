"""A one-shot crawl at a terminal shows a live progress line; in a pipe it shows none."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from newsagg.crawler.progress import CLEAR_LINE

from newsagg.cli.demo_site import DemoSites


def one_shot_crawl(tmp_path: Path, demo_site: DemoSites, *, tty: bool) -> tuple[int, str]:
    """`newsagg crawl --once` of the demo sites, stderr a pseudo-terminal or a pipe."""
    (tmp_path / "sources.yaml").write_text(demo_site.sources_yaml())
    env = {
        **os.environ,
        "NEWSAGG_DATA_DIR": str(tmp_path / "data"),
        "NEWSAGG_SOURCES": str(tmp_path / "sources.yaml"),
    }
    command = [sys.executable, "-m", "newsagg.cli.main", "crawl", "--once"]
    if not tty:
        run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
        return run.returncode, run.stderr
    reader, writer = pty.openpty()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=writer)
    os.close(writer)
    seen = bytearray()
    while True:
        try:
            chunk = os.read(reader, 4096)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        seen += chunk
    os.close(reader)
    return child.wait(timeout=180), seen.decode(errors="replace")


def test_a_crawl_at_a_terminal_shows_its_progress(
    tmp_path: Path, demo_site: DemoSites, manifest: dict
):
    code, shown = one_shot_crawl(tmp_path, demo_site, tty=True)
    assert code == 0, shown[-2000:]
    assert CLEAR_LINE.strip() in shown
    final = shown.rsplit("crawled: ", 1)[1].splitlines()[0]
    assert f"{manifest['article_count']} published" in final
    assert "0 failed" in final


def test_a_crawl_into_a_pipe_shows_none(tmp_path: Path, demo_site: DemoSites):
    code, shown = one_shot_crawl(tmp_path, demo_site, tty=False)
    assert code == 0, shown[-2000:]
    assert "crawled: " not in shown
    assert CLEAR_LINE not in shown
