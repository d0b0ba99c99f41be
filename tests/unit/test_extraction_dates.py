"""Publication dates with provenance: each rule on real-shaped pages, through extract_article."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from newsagg.core.article import Article, DateSource
from newsagg.crawler.extraction import extract_article
from newsagg.crawler.extraction_dates import CONFIDENCE, UNZONED, parse_stamp

CRAWLED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PARAGRAPHS = (
    "The harbour authority confirmed on Monday that the night ferry to the islands will run "
    "again from December, after a winter in which the crossing was cancelled for repairs.",
    "Islanders had petitioned for months, saying the only alternative, a morning boat with "
    "room for forty cars, left shift workers and hospital visitors stranded overnight.",
    "The authority said the refitted vessel passed its sea trials last week and that the "
    "timetable would be published on its website before the end of the month.",
)


def page(head: str = "", byline: str = "", *, title: str = "Night ferry returns") -> str:
    """A news page as sites serve it: head metadata, navigation, a byline, the story."""
    story = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{title} | Harbour Gazette</title>{head}</head><body>"
        "<header><nav><a href='/'>Home</a> <a href='/news'>News</a></nav></header>"
        f"<main><article><h1>{title}</h1>{byline}{story}</article></main>"
        "<footer><p>Harbour Gazette, 4 Quay Street</p></footer></body></html>"
    )


def json_ld(**fields: object) -> str:
    data = {"@context": "https://schema.org", "@type": "NewsArticle", **fields}
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def meta(name: str, value: str) -> str:
    return f'<meta property="{name}" content="{value}">'


def extract(html: str, url: str = "https://gazette.example/news/night-ferry", **kw: object):
    return extract_article(html, url=url, source="gazette", crawled_at=CRAWLED, **kw)  # type: ignore[arg-type]


def test_a_json_ld_date_in_the_future_is_refused_and_the_meta_date_used():
    head = json_ld(datePublished="2027-03-01T09:00:00Z") + meta(
        "article:published_time", "2026-11-24T07:30:00+01:00"
    )
    article = extract(page(head))
    assert article.published_at == datetime(2026, 11, 24, 6, 30, tzinfo=UTC)
    assert article.date_source is DateSource.META
    assert article.date_confidence == CONFIDENCE[DateSource.META]
    (note,) = article.date_notes
    assert note.startswith("refused the json-ld date 2027-03-01 09:00 UTC")
    assert "after the crawl" in note


def test_a_future_date_and_nothing_else_leaves_the_date_unknown_and_says_so():
    article = extract(page(json_ld(datePublished="2026-11-25T12:30:00Z")))
    assert article.published_at is None
    assert article.date_source is None
    assert article.date_confidence is None
    assert article.date_notes == [
        "refused the json-ld date 2026-11-25 12:30 UTC: 0.5 h after the crawl, beyond the "
        "10 min allowance",
        "refused the htmldate day 2026-11-25: a refused date's day",
    ]


def test_a_zoned_time_minutes_ahead_of_the_crawl_is_clock_skew_not_the_future():
    article = extract(page(json_ld(datePublished="2026-11-25T12:05:00Z")))
    assert article.published_at == datetime(2026, 11, 25, 12, 5, tzinfo=UTC)
    assert article.date_notes == []


def test_a_zone_less_time_hours_ahead_is_a_local_time_read_as_utc():
    """A page in Auckland (UTC+13) writes 20:00 for 07:00 UTC: read as UTC it is 8 h on."""
    article = extract(page(json_ld(datePublished="2026-11-25T20:00:00")))
    assert article.published_at == datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
    assert article.date_source is DateSource.JSON_LD
    assert article.date_confidence == pytest.approx(CONFIDENCE[DateSource.JSON_LD] - UNZONED)


def test_a_zone_less_time_beyond_the_furthest_zone_is_refused():
    article = extract(page(json_ld(datePublished="2026-11-26T03:00:00")))
    assert article.published_at is None
    assert "15.0 h after the crawl, beyond the 14.1667 h allowance" in article.date_notes[0]


def test_a_placeholder_before_1990_is_refused_and_the_url_day_used():
    article = extract(
        page(json_ld(datePublished="0001-01-01T00:00:00")),
        url="https://gazette.example/2026/11/23/night-ferry.html",
    )
    assert article.published_at == datetime(2026, 11, 23, tzinfo=UTC)
    assert article.date_source is DateSource.URL
    assert article.date_confidence == pytest.approx(CONFIDENCE[DateSource.URL] - UNZONED)
    assert article.date_notes == [
        "refused the json-ld date 0001-01-01 00:00 UTC: before 1990, a placeholder"
    ]


def test_a_date_only_in_the_url_is_a_url_date_even_when_the_page_has_a_canonical():
    head = '<link rel="canonical" href="https://gazette.example/2026/11/20/night-ferry">'
    article = extract(page(head), url="https://gazette.example/2026/11/20/night-ferry?utm=x")
    assert article.published_at == datetime(2026, 11, 20, tzinfo=UTC)
    assert article.date_source is DateSource.URL


def test_a_url_with_the_months_name_states_its_day():
    article = extract(page(), url="https://gazette.example/politics/2026/nov/18/night-ferry/")
    assert article.published_at == datetime(2026, 11, 18, tzinfo=UTC)
    assert article.date_source is DateSource.URL


def test_a_meta_date_and_a_listing_date_days_apart_are_recorded_and_trusted_less():
    head = meta("article:published_time", "2026-11-20T08:00:00Z")
    listed = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
    article = extract(page(head), feed_published_at=listed)
    assert article.published_at == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    assert article.listed_at == listed
    assert article.date_source is DateSource.META
    assert article.date_confidence == pytest.approx(CONFIDENCE[DateSource.META] / 2, abs=0.01)
    assert article.date_notes == [
        "the page's date 2026-11-20 08:00 UTC (meta) and the feed date 2026-11-24 18:00 UTC "
        "differ by 4.4 days"
    ]


def test_a_listing_date_within_a_day_of_the_pages_raises_its_confidence():
    head = meta("article:published_time", "2026-11-24T08:00:00Z")
    listed = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)
    article = extract(page(head), feed_published_at=listed, listed_in=DateSource.SITEMAP)
    assert article.date_source is DateSource.META
    assert article.date_confidence == pytest.approx(0.95)
    assert article.date_notes == []


@pytest.mark.parametrize("kind", [DateSource.FEED, DateSource.SITEMAP])
def test_a_page_without_a_date_takes_its_listings_with_that_source(kind: DateSource):
    listed = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)
    article = extract(page(), feed_published_at=listed, listed_in=kind)
    assert article.published_at == listed == article.listed_at
    assert article.date_source is kind
    assert article.date_confidence == CONFIDENCE[kind]


def test_a_listing_date_in_the_future_is_kept_as_listed_never_as_published():
    listed = CRAWLED + timedelta(days=3)
    article = extract(page(), feed_published_at=listed)
    assert article.published_at is None
    assert article.listed_at == listed
    assert article.date_notes[0].startswith("refused the feed date 2026-11-28 12:00 UTC")


def test_no_date_anywhere_stays_unknown_never_the_crawl_time():
    article = extract(page())
    assert article.published_at is None
    assert (article.date_source, article.date_confidence, article.listed_at) == (None, None, None)
    assert article.crawled_at == CRAWLED
    assert Article.from_json(article.to_json()) == article


def test_a_dateline_in_the_visible_text_is_an_htmldate_day():
    article = extract(page(byline="<p class='byline'>By Ana Costa, 12 May 2026</p>"))
    assert article.published_at == datetime(2026, 5, 12, tzinfo=UTC)
    assert article.date_source is DateSource.HTMLDATE
    assert article.date_confidence == pytest.approx(CONFIDENCE[DateSource.HTMLDATE] - UNZONED)


def test_a_time_itemprop_counts_as_meta():
    byline = '<time itemprop="datePublished" datetime="2026-11-22T16:45:00-05:00">Nov 22</time>'
    article = extract(page(byline=byline))
    assert article.published_at == datetime(2026, 11, 22, 21, 45, tzinfo=UTC)
    assert article.date_source is DateSource.META


@pytest.mark.parametrize(
    ("text", "zoned"),
    [
        ("2026-11-20T08:00:00Z", True),
        ("2026-11-20T08:00:00+05:30", True),
        ("Fri, 20 Nov 2026 08:00:00 GMT", True),
        ("2026-11-20T08:00:00", False),
        ("2026-11-20", False),
        ("November 20, 2026", False),
    ],
)
def test_a_stamp_knows_whether_it_named_its_zone(text: str, zoned: bool):
    stamp = parse_stamp(text)
    assert stamp is not None
    assert stamp.zoned is zoned
