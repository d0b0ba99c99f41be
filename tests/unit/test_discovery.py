from datetime import UTC, datetime

import pytest
from newsagg.crawler.discovery import DiscoveryError, Link, parse_listing
from newsagg.crawler.extraction_dates import parse_datetime

RSS = b"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>t</title>
<item><title>A</title><link>https://s.example/a</link>
<pubDate>Sun, 06 Sep 2026 10:00:00 +0530</pubDate></item>
<item><title>B</title><guid isPermaLink="true">https://s.example/b</guid></item>
<item><title>no link</title></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<entry><title>A</title><link rel="alternate" href="https://s.example/a"/>
<link rel="edit" href="https://s.example/edit/a"/>
<published>2026-09-06T04:30:00Z</published><updated>2026-09-07T00:00:00Z</updated></entry>
</feed>"""

NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>https://s.example/a</loc><lastmod>2026-09-07</lastmod>
<news:news><news:publication><news:name>S</news:name><news:language>en</news:language>
</news:publication><news:publication_date>2026-09-06T10:00:00+05:30</news:publication_date>
<news:title>A</news:title></news:news></url>
</urlset>"""

INDEX = b"""<?xml version="1.0"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://s.example/news.xml</loc></sitemap>
<sitemap><loc>https://s.example/2019.xml</loc><lastmod>2019-12-31</lastmod></sitemap>
</sitemapindex>"""


def test_rss_links_and_dates():
    found = parse_listing(RSS)
    assert found.links == [
        Link("https://s.example/a", datetime(2026, 9, 6, 4, 30, tzinfo=UTC)),
        Link("https://s.example/b"),
    ]


def test_atom_uses_alternate_link_and_dates():
    (link,) = parse_listing(ATOM).links
    assert link.url == "https://s.example/a"
    assert link.published_at == datetime(2026, 9, 6, 4, 30, tzinfo=UTC)
    assert link.stamp == datetime(2026, 9, 7, tzinfo=UTC)


def test_google_news_sitemap():
    (link,) = parse_listing(NEWS_SITEMAP).links
    assert link.url == "https://s.example/a"
    assert link.published_at == datetime(2026, 9, 6, 4, 30, tzinfo=UTC)
    assert link.modified_at == datetime(2026, 9, 7, tzinfo=UTC)


def test_sitemap_index_lists_children():
    found = parse_listing(INDEX)
    assert found.sitemaps == [
        Link("https://s.example/news.xml"),
        Link("https://s.example/2019.xml", modified_at=datetime(2019, 12, 31, tzinfo=UTC)),
    ]
    assert found.links == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (b"<html><body>not a feed</body></html>", "unknown listing format <html>"),
        (b"<rss><channel><item>", "not well-formed"),
        (b"\x00\xff garbage", "not well-formed"),
    ],
)
def test_unreadable_listings_raise(body, message):
    with pytest.raises(DiscoveryError, match=message):
        parse_listing(body)


def test_external_entities_are_not_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    body = f"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>
<rss><channel><item><link>https://s.example/&x;</link></item></channel></rss>""".encode()
    found = parse_listing(body)
    assert all("TOP-SECRET" not in link.url for link in found.links)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-09-06", datetime(2026, 9, 6, tzinfo=UTC)),
        ("2026-09-06T10:00:00Z", datetime(2026, 9, 6, 10, tzinfo=UTC)),
        ("Sun, 06 Sep 2026 10:00:00 GMT", datetime(2026, 9, 6, 10, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_listing_dates(value, expected):
    assert parse_datetime(value) == expected
