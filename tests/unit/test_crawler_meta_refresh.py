"""The crawler's meta refresh middleware redirects exactly where Scrapy's does, while it
passes pages that cannot hold a refresh on without decoding them."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from newsagg.crawler.middlewares import MetaRefreshMiddleware, may_refresh
from scrapy import Request
from scrapy.downloadermiddlewares import redirect
from scrapy.http import HtmlResponse, Response
from scrapy.utils.test import get_crawler

PAGES = Path(__file__).parents[2] / "bench" / "data" / "article-extraction-benchmark" / "html"
URL = "http://127.0.0.1:8080/news/story.html"
REFRESH = '<meta http-equiv="Refresh" content="0; url=/moved.html">'


def _outcome(middleware: redirect.MetaRefreshMiddleware, response: Response) -> str:
    """Where the middleware sends the crawl: a redirected URL, or the response itself."""
    result = middleware.process_response(request=Request(URL), response=response)
    if isinstance(result, Request):
        return f"redirect {result.url}"
    assert result is response
    return "passed on"


def _both(body: bytes, content_type: str = "text/html") -> tuple[str, str]:
    crawler = get_crawler()
    ours = MetaRefreshMiddleware.from_crawler(crawler)
    scrapys = redirect.MetaRefreshMiddleware.from_crawler(crawler)
    headers = {"Content-Type": content_type}
    return (
        _outcome(ours, HtmlResponse(URL, body=body, headers=headers)),
        _outcome(scrapys, HtmlResponse(URL, body=body, headers=headers)),
    )


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (f"<html><head>{REFRESH}</head><body>x</body></html>".encode(), "text/html", "redirect"),
        (f"<HTML><HEAD>{REFRESH.upper()}</HEAD></HTML>".encode(), "text/html", "redirect"),
        (
            f"<html><head>{REFRESH}</head></html>".encode("utf-16"),
            "text/html; charset=utf-16",
            "redirect",
        ),
        (
            f"<html><head>{REFRESH}</head></html>".encode("utf-7"),
            "text/html; charset=utf-7",
            "redirect",
        ),
        (  # ISO-2022-JP: an escape that decodes to nothing splits the word's bytes
            b'<html><head><meta http-equiv="ref\x1b(Bresh" content="0; url=/moved.html">',
            "text/html; charset=iso-2022-jp",
            "redirect",
        ),
        (  # a refresh after the first 4,096 characters: neither follows it
            f"<html><head><title>{'é' * 5000}</title>{REFRESH}</head></html>".encode(),
            "text/html",
            "passed on",
        ),
        (  # inside a script: Scrapy decides (METAREFRESH_IGNORE_TAGS is empty by default)
            f"<html><head><script>var s = '{REFRESH}';</script></head></html>".encode(),
            "text/html",
            "redirect",
        ),
        (b"<html><head><title>Refreshed</title></head><body>x</body></html>", "text/html", ""),
        (b"<html><head><title>News</title></head><body>x</body></html>", "text/html", ""),
    ],
)
def test_redirects_as_scrapy_does(body: bytes, content_type: str, expected: str):
    ours, scrapys = _both(body, content_type)
    assert ours == scrapys
    assert ours.startswith(expected or "passed on")
    if expected == "redirect":
        assert ours.lower() == "redirect http://127.0.0.1:8080/moved.html"


def test_a_page_without_refresh_is_not_decoded():
    response = HtmlResponse(URL, body=b"<html><head><title>News</title></head></html>")
    middleware = MetaRefreshMiddleware.from_crawler(get_crawler())
    assert middleware.process_response(request=Request(URL), response=response) is response
    assert response._cached_ubody is None  # Scrapy's own would have decoded the whole body


def test_may_refresh_rules_out_only_ascii_compatible_pages_without_the_word():
    assert not may_refresh(b"<html><head><title>News</title></head></html>")
    assert may_refresh(b"<html><head><META HTTP-EQUIV=REFRESH>")
    assert may_refresh("<html><head><title>News</title>".encode("utf-16-le"))  # NULs
    assert may_refresh(b"<html>", b"text/html; charset=UTF-7")
    assert may_refresh(b'<meta http-equiv="ref\x1b(Bresh">')  # ISO-2022 escape


def test_the_benchmark_pages_go_where_scrapys_middleware_sends_them():
    pages = sorted(PAGES.glob("*.html.gz"))
    assert len(pages) == 121
    for page in pages:
        ours, scrapys = _both(gzip.decompress(page.read_bytes()))
        assert ours == scrapys, page.name
