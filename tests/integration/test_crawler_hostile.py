"""Hostile and broken input: each case gets a log line and a count, and the crawl goes on.

One real `newsagg crawl --once` over the test site's hostile feed (gzip bomb, oversized
pages, a redirect loop, a stalled response, 404, 500, a robots.txt-disallowed page),
a malformed feed and a feed on a private address its source does not allow.
"""

from __future__ import annotations

import pytest
from newsagg.core.article import Article
from support.crawler_site import CrawlerSite
from support.crawler_site.crawl import FAST_FAILURES, CrawlRun, crawl, published


@pytest.fixture(scope="module")
def outcome(
    site: CrawlerSite, tmp_path_factory: pytest.TempPathFactory
) -> tuple[CrawlRun, list[Article]]:
    port = site.url.rsplit(":", 1)[1]
    sources = f"""sources:
  - name: hostile
    feeds: [{site.url}/hostile.xml, {site.url}/broken.xml]
    allow_private: true
  - name: closed
    feeds: [http://localhost:{port}/closed.xml]
"""
    data_dir = tmp_path_factory.mktemp("hostile") / "data"
    run = crawl(data_dir, sources, **FAST_FAILURES)
    assert run.returncode == 1, run.log  # no listing of `closed` could be read
    return run, published(data_dir)


@pytest.mark.parametrize(
    ("path", "reason", "message"),
    [
        ("/hostile/bomb", "too_large", "exceeded DOWNLOAD_MAXSIZE (200000 B) during decompression"),
        ("/hostile/huge", "too_large", "larger than download max size"),
        ("/hostile/huge-stream", "too_large", ""),
        ("/hostile/loop-", "redirect_loop", "max redirections reached"),
        ("/hostile/stall", "timeout", "took longer than 3.0 seconds"),
        ("/hostile/missing", "http_4xx", "HTTP 404"),
        ("/hostile/error", "http_5xx", "HTTP 500"),
        ("/private/secret.html", "robots_disallowed", "Forbidden by robots.txt"),
    ],
)
def test_each_hostile_page_is_logged_with_its_reason(
    outcome: tuple[CrawlRun, list[Article]], path: str, reason: str, message: str
):
    run, _ = outcome
    lines = [line for line in run.log.splitlines() if f"article fetch failed ({reason})" in line]
    assert any(path in line and message in line for line in lines), run.log


def test_failures_are_counted(outcome: tuple[CrawlRun, list[Article]]):
    run, _ = outcome
    assert run.stat("article/too_large") == 3
    for reason in ("redirect_loop", "timeout", "http_4xx", "http_5xx", "robots_disallowed"):
        assert run.stat(f"article/{reason}") == 1, reason
    assert run.stat("listing/malformed") == 1
    assert run.stat("listing/private_address") == 1
    assert run.stat("retry/count") >= 4  # the 500 and the stall, twice each, with backoff


def test_a_private_address_is_refused_unless_the_source_allows_it(
    outcome: tuple[CrawlRun, list[Article]], site: CrawlerSite
):
    run, _ = outcome
    assert "listing fetch failed (private_address)" in run.log
    assert "localhost is a non-public address" in run.log
    assert not site.hits("/closed.xml")


def test_a_source_none_of_whose_listings_could_be_read_fails_the_run_by_name(
    outcome: tuple[CrawlRun, list[Article]], site: CrawlerSite
):
    run, _ = outcome
    port = site.url.rsplit(":", 1)[1]
    assert "newsagg crawl: no listing of 1 source(s) could be read:" in run.log
    assert f"closed: http://localhost:{port}/closed.xml (private_address)" in run.log
    assert "hostile: " not in run.log.split("could be read:")[1]  # one feed was read


def test_one_summary_line_per_source(outcome: tuple[CrawlRun, list[Article]]):
    run, _ = outcome
    (hostile,) = [line for line in run.log.splitlines() if "pass finished: hostile:" in line]
    assert " INFO " in hostile
    assert "9 listed, 1 new, 0 unchanged, 8 failed (" in hostile
    assert "1 of 2 listings failed" in hostile


def test_the_crawl_goes_on(outcome: tuple[CrawlRun, list[Article]], site: CrawlerSite):
    run, articles = outcome
    assert [a.url for a in articles] == [f"{site.url}/articles/survivor.html"]
    assert "Traceback" not in run.log
    assert "listing " + f"{site.url}/broken.xml of hostile unreadable" in run.log
    assert len(site.hits("/private/secret.html")) == 0


def test_a_page_whose_extraction_never_ends_does_not_hold_the_crawl(
    site: CrawlerSite, tmp_path_factory: pytest.TempPathFactory
):
    """With a deadline no page can meet (a stand-in for a page that hangs the parser),
    a page fails at it twice, the workers are replaced each time, the pass ends, and the
    page is remembered as a dead end, not fetched again by the next pass. A page whose
    worker was killed for the other page's deadline (twice) was not at fault: the next
    pass fetches it again."""
    sources = (
        f"sources:\n  - name: odd\n    feeds: [{site.url}/odd-links.xml]\n    allow_private: true\n"
    )
    data_dir = tmp_path_factory.mktemp("deadline") / "data"
    run = crawl(data_dir, sources, NEWSAGG_EXTRACTION_TIMEOUT="0.001")
    assert run.returncode == 0, run.log
    assert run.stat("article/extract_timeout") >= 1, run.log
    assert run.stat("article/extract_timeout") + run.stat("article/extract_worker_died") == 2
    assert run.stat("article/extract_retried") >= 2, run.log
    assert "gave up extracting" in run.log
    assert not published(data_dir)
    again = crawl(data_dir, sources)
    assert len(again.fetched("/slow/")) == run.stat("article/extract_worker_died"), again.log
