"""A page's canonical URL names its article only within the page's own site."""

from __future__ import annotations

import pytest
from newsagg.core.article import article_id
from newsagg.core.sources import Source
from newsagg.crawler.extraction import extract_article
from newsagg.crawler.identity import own_sites, site_of, trusted_canonical
from pydantic import ValidationError

VICTIM = "https://www.victim-news.com/2026/09/story.html"


@pytest.mark.parametrize(
    ("url", "site"),
    [
        ("https://www.bbc.co.uk/news/x", "bbc.co.uk"),
        ("https://m.bbc.co.uk/news/x", "bbc.co.uk"),
        ("https://WWW.Example.COM./a", "example.com"),
        ("https://alice.github.io/post", "alice.github.io"),  # a private suffix: one site each
        ("http://127.0.0.1:8000/a", "127.0.0.1:8000"),  # no suffix: the origin
        ("https://localhost/a", "localhost:443"),
        ("http://[::1]:81/", "::1:81"),
    ],
)
def test_site_of(url: str, site: str):
    assert site_of(url) == site


@pytest.mark.parametrize(
    ("stated", "fetched", "own", "trusted"),
    [
        (VICTIM, "https://amp.victim-news.com/story", frozenset(), True),  # same site
        (VICTIM, "https://attacker.example/story", frozenset(), False),
        (VICTIM, "https://attacker.victim-news.com.evil.io/s", frozenset(), False),
        ("https://bob.github.io/post", "https://alice.github.io/post", frozenset(), False),
        ("http://127.0.0.1:8001/a", "http://127.0.0.1:8002/a", frozenset(), False),
        (VICTIM, "https://victim-news-com.cdn.ampproject.org/c/s", {"victim-news.com"}, True),
        (VICTIM, "https://attacker.example/story", {"attacker.example"}, False),
    ],
)
def test_a_canonical_is_trusted_only_on_the_pages_own_site_or_the_sources(
    stated: str, fetched: str, own: frozenset[str], trusted: bool
):
    assert trusted_canonical(stated, fetched, own) == (stated if trusted else fetched)


def test_own_sites_are_the_sources_configured_hosts_and_declared_domains():
    source = Source(
        name="victim",
        feeds=["https://feeds.victim-news.com/rss"],
        homepage="https://www.victim-news.com/",
        domains=["Victim-Amp.net"],
    )
    assert own_sites(source) == {"victim-news.com", "victim-amp.net"}


@pytest.mark.parametrize("domain", ["", "not a domain", "http://x.com/", "x..com", "-x.com"])
def test_declared_domains_are_checked(domain: str):
    with pytest.raises(ValidationError, match="domain"):
        Source(name="s", feeds=["https://s.example/rss"], domains=[domain])


PAGE = (
    "<html><head><title>Hijacked</title>"
    f'<link rel="canonical" href="{VICTIM}"></head><body><article><h1>Hijacked</h1>'
    + "<p>An attacker's page that claims another site's story as its own address.</p>" * 6
    + "</article></body></html>"
)


def test_a_page_cannot_take_over_another_sites_article_id():
    fetched = "https://attacker.example/fake.html"
    article = extract_article(PAGE, url=fetched, source="attacker")
    assert article.canonical_url == fetched
    assert article.id == article_id(fetched) != article_id(VICTIM)
    declared = extract_article(
        PAGE, url=fetched, source="attacker", own_sites=frozenset({"victim-news.com"})
    )
    assert declared.id == article_id(VICTIM)  # only when the source declares that domain
