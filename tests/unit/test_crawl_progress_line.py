"""The progress line of a one-shot crawl, and when it is asked for (the real crawls at a
terminal and into a pipe are in tests/integration/test_crawl_progress.py)."""

from __future__ import annotations

import io

from newsagg.crawler.progress import progress_line, progress_settings


def test_the_line_counts_failures_and_leaves_out_steps():
    stats = {
        "downloader/response_count": 9,
        "listing/ok": 2,
        "listing/robots_txt/disallowed": 1,
        "article/extracted": 5,
        "article/published": 4,
        "article/unchanged": 1,
        "article/http_404": 2,
        "article/no_article": 1,
    }
    assert progress_line(stats) == (
        "2 listings read, 9 pages fetched, 4 published, 1 unchanged, 3 failed"
    )


def test_only_a_one_shot_crawl_at_a_terminal_asks_for_it():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert progress_settings(True, Terminal())["NEWSAGG_PROGRESS"] is True
    assert progress_settings(False, Terminal()) == {}
    assert progress_settings(True, io.StringIO()) == {}
