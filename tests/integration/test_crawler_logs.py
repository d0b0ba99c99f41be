"""What a crawl pass tells a person: one INFO line per source, Scrapy's dumps at DEBUG,
and no remote-control server."""

from __future__ import annotations

from pathlib import Path

from support.crawler_site import CrawlerSite
from support.crawler_site.crawl import crawl


def sources(site: CrawlerSite) -> str:
    return (
        f"sources:\n  - name: odd\n    feeds: [{site.url}/odd-links.xml]\n    allow_private: true\n"
    )


def test_at_info_a_pass_is_one_line_per_source(site: CrawlerSite, tmp_path: Path):
    run = crawl(tmp_path / "data", sources(site), NEWSAGG_LOG_LEVEL="INFO")
    assert run.returncode == 0, run.log
    info = [line for line in run.log.splitlines() if " INFO " in line]
    assert len(info) == 1, run.log
    assert "pass finished: odd: 6 listed, 2 new, 0 unchanged, 4 failed (bad_url 4)" in info[0]
    for chatter in ("Enabled downloader middlewares", "Dumping Scrapy stats", "Spider opened"):
        assert chatter not in run.log


def test_scrapy_remote_control_is_off(site: CrawlerSite, tmp_path: Path):
    run = crawl(tmp_path / "data", sources(site))  # DEBUG: the extension list is shown
    enabled = run.log.split("Enabled extensions:", 1)[1].split("]", 1)[0]
    assert "LogStats" in enabled
    assert "RemoteControl" not in enabled
