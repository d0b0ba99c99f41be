"""A hostile feed cannot make the crawler read local files, reach other private hosts
or take over another source's article (real `newsagg crawl` runs on local sites)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from newsagg.core.article import Article, article_id
from support.crawler_site.crawl import crawl, published

from newsagg.cli.demo_site import PLACEHOLDER, SITE_DIR, DemoSite, DemoSites

MARKER = "Plutoniumsecret"
SECRET_ARTICLE = (
    "<html><head><title>Secret {marker}</title></head><body><article><h1>Secret</h1>"
    + "<p>This file on the crawler's own disk must never be indexed: {marker}.</p>" * 8
    + "</article></body></html>"
).format(marker=MARKER)


@pytest.fixture
def attacker(tmp_path: Path, demo_site: DemoSites, manifest: dict) -> Iterator[DemoSite]:
    """A site whose feed links to files, data: URLs and another private host, and whose
    one article claims the victim's reference story as its canonical. (Link-local and
    metadata addresses are refused in the unit tests, with a stub resolver: a test
    must never send a packet off this machine, even when the code under test is wrong.)"""
    root = tmp_path / "attacker"
    (root / "articles").mkdir(parents=True)
    secret = tmp_path / "secret.html"
    secret.write_text(SECRET_ARTICLE)
    victim = f"{demo_site.url}/articles/{manifest['reference_slug']}.html"
    page = (SITE_DIR / "articles" / f"{manifest['reference_slug']}.html").read_text()
    (root / "articles" / "evil.html").write_text(
        page.replace(PLACEHOLDER.decode(), demo_site.url)  # the copy names the victim's URL
        .replace("<title>", "<title>Hijacked: ")
        .replace('"headline": "', '"headline": "Hijacked: ')
    )
    site = DemoSite(0, site_dir=root).start()
    port = demo_site.url.rsplit(":", 1)[1]
    links = [
        f"file://{secret}",
        f"FILE://localhost{secret}",
        "data:text/html;base64," + base64.b64encode(SECRET_ARTICLE.encode()).decode(),
        f"http://localhost:{port}/articles/{manifest['reference_slug']}.html",  # not its own
        f"{site.url}/articles/evil.html",
    ]
    assert victim in (root / "articles" / "evil.html").read_text()
    items = "".join(f"<item><title>x</title><link>{link}</link></item>" for link in links)
    (root / "rss.xml").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>'
    )
    yield site
    site.stop()


def test_a_hostile_feed_reads_no_file_reaches_no_other_host_and_takes_over_nothing(
    tmp_path: Path, demo_site: DemoSites, attacker: DemoSite, manifest: dict
):
    data_dir = tmp_path / "data"
    victim_source = demo_site.sites[0].source_entry()
    first = crawl(data_dir, f"sources:\n{victim_source}")
    assert first.returncode == 0, first.log
    hostile = (
        f"sources:\n  - name: attacker\n    feeds: [{attacker.url}/rss.xml]\n"
        "    allow_private: true\n"
    )
    run = crawl(data_dir, hostile)  # the later crawl: it used to win
    assert run.returncode == 0, run.log
    articles = published(data_dir)

    assert not [a for a in articles if MARKER in a.text or MARKER in a.title]
    assert run.stat("article/not_http") == 3, run.log
    assert "only http and https addresses are fetched" in run.log
    refusals = [line for line in run.log.splitlines() if "(private_address)" in line]
    assert any("localhost" in line and "allow_private" in line for line in refusals)

    victim_url = f"{demo_site.url}/articles/{manifest['reference_slug']}.html"
    victim: list[Article] = [a for a in articles if a.id == article_id(victim_url)]
    assert victim
    assert all(a.source == "marquee-daily" for a in victim)
    assert not any(a.title.startswith("Hijacked") for a in victim)
    (evil,) = [a for a in articles if a.source == "attacker"]
    assert evil.canonical_url == f"{attacker.url}/articles/evil.html"
    assert evil.id == article_id(evil.canonical_url)
