"""The crawler's manners: private addresses refused, retries that back off, an honest
User-Agent, per-host limits, conditional-GET validators, and failures told apart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from newsagg.core.settings import Settings
from newsagg.crawler.failures import classify
from newsagg.crawler.middlewares import (
    ALLOW_PRIVATE,
    PrivateAddressMiddleware,
    PrivateAddressRefused,
    SchemeRefused,
    is_public,
)
from newsagg.crawler.runner import scrapy_settings
from newsagg.crawler.spider import NewsSpider, url_key
from newsagg.crawler.state import CrawlState
from pydantic import ValidationError
from scrapy import Request
from scrapy.exceptions import DownloadTimeoutError, IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure


class Stats:
    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def inc_value(self, key: str) -> None:
        self.values[key] = self.values.get(key, 0) + 1


class Crawler:
    stats = Stats()


def middleware(answers: dict[str, list[str]]) -> PrivateAddressMiddleware:
    async def resolver(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError("no such host")
        return answers[host]

    return PrivateAddressMiddleware(Crawler(), resolver)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata, link-local
        ("224.0.0.1", False),
        ("0.0.0.0", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
    ],
)
def test_is_public(address: str, public: bool):
    assert is_public(address) is public


def refused(mw: PrivateAddressMiddleware, request: Request) -> bool:
    try:
        asyncio.run(mw.process_request(request))
    except PrivateAddressRefused:
        return True
    return False


def test_private_hosts_are_refused_also_by_name_and_after_a_redirect():
    mw = middleware({"news.example": ["93.184.216.34"], "intranet.example": ["10.0.0.7"]})
    assert not refused(mw, Request("https://news.example/story"))
    assert refused(mw, Request("http://127.0.0.1:8080/admin"))
    assert refused(mw, Request("http://[::1]/"))
    assert refused(mw, Request("https://intranet.example/"))
    # a redirect is a new request through the same chain, with the same meta
    redirected = Request("https://news.example/story").replace(url="http://169.254.169.254/")
    assert refused(mw, redirected)
    assert not refused(mw, Request("https://unresolvable.example/"))  # the downloader reports it


OWN = {ALLOW_PRIVATE: frozenset({"127.0.0.1:8080", "intranet.example:80"})}
"""The meta of a request whose source sets allow_private for its feed's two origins."""


def test_a_source_that_allows_private_addresses_and_its_robots_txt():
    mw = middleware({"intranet.example": ["10.0.0.7"]})
    assert not refused(mw, Request("http://127.0.0.1:8080/rss.xml", meta=OWN))
    assert not refused(mw, Request("http://intranet.example/story", meta=OWN))
    robots = Request("http://127.0.0.1:8080/robots.txt", meta={"dont_obey_robotstxt": True})
    assert not refused(mw, robots)
    other_port = Request("http://127.0.0.1:9999/robots.txt", meta={"dont_obey_robotstxt": True})
    assert refused(mw, other_port)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9999/admin",  # another port on the allowed host
        "http://localhost:8080/rss.xml",  # another name for it
        "http://10.0.0.8/",  # another private host
        "http://[::1]:8080/",
        "http://169.254.169.254/latest/meta-data/",  # metadata: never, even when allowed
        "http://[fd00:ec2::254]/latest/meta-data/",
    ],
)
def test_allow_private_opens_only_the_sources_own_private_origins(url: str):
    mw = middleware({"localhost": ["127.0.0.1"]})
    assert refused(mw, Request(url, meta=OWN))


def test_link_local_is_refused_even_as_a_sources_own_origin():
    mw = middleware({"metadata.google.internal": ["169.254.169.254"]})
    meta = {ALLOW_PRIVATE: frozenset({"metadata.google.internal:80", "169.254.169.254:80"})}
    assert refused(mw, Request("http://metadata.google.internal/computeMetadata/v1/", meta=meta))
    assert refused(mw, Request("http://169.254.169.254/", meta=meta))


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "file://localhost/etc/hostname",
        "FILE:///etc/passwd",
        "data:text/html,<title>x</title>",
        "ftp://127.0.0.1/pub/",
        "s3://bucket/key",
    ],
)
def test_only_http_and_https_are_fetched_whatever_allow_private_says(url: str):
    mw = middleware({})
    for meta in ({}, OWN):
        with pytest.raises(SchemeRefused, match="only http and https"):
            asyncio.run(mw.process_request(Request(url, meta=meta)))
    assert classify(failure_of(SchemeRefused("x"))).reason == "not_http"


def test_scrapy_has_no_download_handler_for_other_schemes():
    handlers = scrapy_settings(Settings())["DOWNLOAD_HANDLERS"]
    assert all(handlers[scheme] is None for scheme in ("file", "data", "ftp", "s3"))


def failure_of(exc: Exception) -> Failure:
    try:
        raise exc
    except Exception:
        return Failure()


def http_error(status: int) -> HttpError:
    return HttpError(Response("https://x.example/", status=status), "Ignoring non-200 response")


@pytest.mark.parametrize(
    ("exc", "reason", "transient"),
    [
        (PrivateAddressRefused("refused"), "private_address", False),
        (IgnoreRequest("Forbidden by robots.txt"), "robots_disallowed", False),
        (IgnoreRequest("max redirections reached"), "redirect_loop", False),
        (
            IgnoreRequest("... exceeded DOWNLOAD_MAXSIZE (10 B) during decompression."),
            "too_large",
            False,
        ),
        (http_error(404), "http_4xx", False),
        (http_error(429), "http_4xx", True),
        (http_error(503), "http_5xx", True),
        (DownloadTimeoutError("took longer than 3 seconds"), "timeout", True),
        (ConnectionRefusedError("refused"), "connection", True),
    ],
)
def test_failures_are_told_apart(exc: Exception, reason: str, transient: bool):
    why = classify(failure_of(exc))
    assert (why.reason, why.transient) == (reason, transient)


def test_scrapy_settings_carry_politeness_from_ours():
    ours = Settings(crawl_host_concurrency=3, crawl_retry_backoff=0.5, max_page_bytes=1234)
    theirs = scrapy_settings(ours)
    assert theirs["CONCURRENT_REQUESTS_PER_DOMAIN"] == 3
    assert theirs["DOWNLOAD_MAXSIZE"] == 1234
    assert theirs["NEWSAGG_RETRY_BACKOFF"] == 0.5
    assert theirs["ROBOTSTXT_OBEY"] is True
    assert "+https://" in theirs["USER_AGENT"]
    middlewares = theirs["DOWNLOADER_MIDDLEWARES"]
    assert middlewares["scrapy.downloadermiddlewares.retry.RetryMiddleware"] is None
    assert middlewares["newsagg.crawler.middlewares.PrivateAddressMiddleware"] < 100  # robots.txt


def test_a_user_agent_without_contact_is_refused():
    with pytest.raises(ValidationError, match="contact URL"):
        Settings(user_agent="sneaky-bot/1.0")


def test_validators_persist_and_can_be_forgotten(tmp_path: Path):
    state = CrawlState(tmp_path / "state.sqlite")
    state.save_validators("https://x.example/rss", '"v1"', "Sat, 12 Sep 2026 08:00:00 GMT")
    state.close()
    state = CrawlState(tmp_path / "state.sqlite")
    assert state.validators("https://x.example/rss") == ('"v1"', "Sat, 12 Sep 2026 08:00:00 GMT")
    state.forget_validators("https://x.example/rss")
    assert state.validators("https://x.example/rss") == (None, None)
    state.close()


def test_max_age_and_since_set_the_cutoff(tmp_path: Path):
    state = CrawlState(tmp_path / "state.sqlite")
    since = datetime(2026, 1, 1, tzinfo=UTC)
    assert NewsSpider([], state).cutoff is None
    assert NewsSpider([], state, max_age_days=7).cutoff is not None
    backfill = NewsSpider([], state, since=since, max_age_days=7)
    assert backfill.cutoff == since
    assert not backfill.conditional
    state.close()


def test_url_key_joins_amp_mobile_and_tracking_variants():
    plain = url_key("https://news.example/2026/story.html")
    for variant in (
        "https://m.news.example/2026/story.html",
        "https://amp.news.example/2026/story.amp.html",
        "https://news.example/amp/2026/story.html",
        "https://news.example/2026/story.html?amp=1&utm_source=x",
        "https://news.example/2026/story.html?outputType=amp",
    ):
        assert url_key(variant) == plain, variant
    assert url_key("not a url") == "not a url"
