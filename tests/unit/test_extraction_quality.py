"""The extraction-quality flag on real-shaped pages, and its counter on the crawler's registry."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from lxml import html as lxml_html
from newsagg.core.article import Quality
from newsagg.crawler.extraction import extract_article
from newsagg.crawler.extraction_quality import LOW_BELOW, assess, link_density
from newsagg.crawler.metrics import REGISTRY
from newsagg.crawler.report import PassReport
from scrapy.crawler import Crawler

DATA = Path(__file__).parent.parent / "data" / "extraction"
CRAWLED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
STORY = (
    "The port authority's board will decide next month whether to sell the east docks, a "
    "forty-acre stretch of warehouses and cranes that has lost money for six straight years.\n"
    "Two logistics groups and a property developer have made offers, the documents show, and "
    "the board's chair said every option for the site remained under review this winter.\n"
    "Dock workers' representatives said they would oppose any sale that did not guarantee "
    "the jobs of the three hundred people who still load and unload ships at the site.\n"
)


def extract(name: str):
    return extract_article(
        (DATA / name).read_bytes(),
        url="https://journal.example.com/business/story",
        source="journal",
        crawled_at=CRAWLED,
    )


def tree(body: str, head: str = "") -> lxml_html.HtmlElement:
    return lxml_html.document_fromstring(f"<html><head>{head}</head><body>{body}</body></html>")


def test_a_paywalled_teaser_is_kept_but_marked_low():
    article = extract("paywalled-teaser.html")
    assert article.quality is Quality.LOW
    assert article.quality_score < LOW_BELOW
    assert {"paywall", "teaser"} <= set(article.quality_reasons)


def test_a_list_of_headlines_is_marked_low_for_its_link_density():
    article = extract("section-front.html")
    assert article.quality is Quality.LOW
    assert article.quality_reasons == ["link_density"]


def test_a_normal_article_stays_ok():
    article = extract("harbour-ferry.html")
    assert article.quality is Quality.OK
    assert article.quality_score == 1.0
    assert article.quality_reasons == []


def test_the_not_free_marker_alone_does_not_make_a_complete_story_low():
    """Publishers mark whole stories they serve to crawlers isAccessibleForFree false."""
    page = tree(
        "".join(f"<p>{line}</p>" for line in (STORY * 2).splitlines()),
        '<script type="application/ld+json">{"@type": "NewsArticle", '
        '"isAccessibleForFree": false}</script>',
    )
    flag = assess(STORY * 2, page)
    assert flag.quality is Quality.OK
    assert flag.reasons == ("paywall",)
    assert LOW_BELOW <= flag.score < 1.0


def test_cookie_and_newsletter_lines_in_the_text_lower_the_score():
    text = (
        STORY * 2 + "We use cookies to improve your experience.\nSign up for our daily newsletter\n"
    )
    flag = assess(text, tree("".join(f"<p>{line}</p>" for line in text.splitlines())))
    assert flag.reasons == ("boilerplate",)
    assert flag.score == 0.7
    assert flag.quality is Quality.OK


def test_a_short_text_that_is_a_sliver_of_the_page_is_low():
    page = tree("<p>" + "Other stories, listings and adverts fill the page. " * 200 + "</p>")
    flag = assess("Markets opened higher on Monday.", page)
    assert flag.reasons == ("short", "small_share")
    assert flag.quality is Quality.LOW


def test_link_density_counts_link_words_only_from_links_of_three_words_or_more():
    page = tree(
        "<a href='/'>Home</a><a href='/a'>Two logistics groups and a property developer</a>"
    )
    text = "Home. Two logistics groups and a property developer have made offers."
    assert 0.6 < link_density(text, page) < 0.7
    assert link_density("Home sweet home", page) == 0.0


class _Stats:
    def __init__(self) -> None:
        self.values: Counter[str] = Counter()

    def inc_value(self, key: str, count: int = 1) -> None:
        self.values[key] += count


class _Crawler:
    def __init__(self) -> None:
        self.stats = _Stats()


def test_a_low_quality_article_is_counted_per_source_on_the_crawlers_registry():
    crawler = _Crawler()
    report = PassReport(cast(Crawler, crawler))
    labels = {"source": "journal"}
    before = REGISTRY.get_sample_value("newsagg_crawler_articles_low_quality_total", labels) or 0
    report.low_quality("journal")
    after = REGISTRY.get_sample_value("newsagg_crawler_articles_low_quality_total", labels)
    assert after == before + 1
    assert crawler.stats.values["article/low_quality"] == 1
