"""extract_article on small hand-made pages: body, dates, authors, language, JSON-LD, encodings."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree
from lxml import html as lxml_html
from newsagg.crawler.extraction import (
    CHOICES,
    Choices,
    ExtractionError,
    _parse,
    body_text_of,
    cleaned_text,
    extract_article,
    main_content,
    run_on,
)
from newsagg.crawler.extraction_authors import normalise_authors, site_names
from newsagg.crawler.extraction_encoding import decode_html
from newsagg.crawler.extraction_jsonld import JsonLdArticle
from newsagg.crawler.extraction_language import detect_language
from newsagg.crawler.extraction_text import clean_lines

from newsagg.cli.demo_site import DEMO_DIR, MANIFEST_PATH

CRAWLED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PARAGRAPHS = [
    "The city council voted on Tuesday evening to rebuild the old river bridge, ending a debate "
    "that had divided the neighbourhoods on either bank for almost three years.",
    "Engineers told the council that the present structure could carry buses for at most two "
    "more winters, and that repairs would cost nearly as much as a new crossing.",
    "Work is expected to begin in the spring, with a temporary footbridge kept open for "
    "pedestrians and cyclists while the main span is replaced.",
]
TEXT = "\n".join(PARAGRAPHS)


def page(head: str = "", body: str = "", *, lang: str = "en", title: str = "Bridge vote") -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>'
        f"{head}</head><body><nav><a href='/'>Home</a></nav><article><h1>{title}</h1>"
        f"{body or paragraphs}</article></body></html>"
    )


def json_ld(**fields: object) -> str:
    data = {"@context": "https://schema.org", "@type": "NewsArticle", **fields}
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def extract(html: str | bytes, url: str = "https://news.example.com/bridge", **kwargs: object):
    return extract_article(html, url=url, source="example", crawled_at=CRAWLED, **kwargs)  # type: ignore[arg-type]


# -- body -------------------------------------------------------------------------------


def test_body_keeps_paragraphs_and_drops_headline_prompts_and_related_links():
    chrome = (
        "<p>jane.doe@example.com</p><p>Share this article</p><p>Sign up for our newsletter</p>"
        "<h2>Related stories</h2><ul>"
        "<li><a href='/a'>Ferry returns after repairs</a></li>"
        "<li><a href='/b'>Council budget approved</a></li></ul>"
    )
    paragraphs = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    article = extract(page(body=paragraphs + chrome))
    assert article.text == TEXT
    assert article.title == "Bridge vote"


def test_kicker_headline_variant_and_dateline_above_the_story_are_not_body():
    text = "\n".join(
        [
            "TECH",
            "Bridge vote",
            "November 19, 2019 / 12:21 AM / Updated 14 hours ago",
            "In 2019, the bridge closed.",
            *PARAGRAPHS,
        ]
    )
    titles = ["Council votes to rebuild the river bridge", "Bridge vote | The Example Times"]
    assert clean_lines(text, titles) == "In 2019, the bridge closed.\n" + TEXT
    assert clean_lines(text, titles, head=False) == text


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("", "empty page"),
        ("just some words, no markup at all", "not an HTML document"),
        ("<html><body><p>Too short.</p></body></html>", "no article body"),
    ],
)
def test_pages_without_an_article_raise(html: str, reason: str):
    with pytest.raises(ExtractionError, match=reason):
        extract(html)


def test_a_body_without_any_headline_raises():
    paragraphs = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    with pytest.raises(ExtractionError, match="no headline"):
        extract(f"<html><body><div>{paragraphs}</div></body></html>")


# -- JSON-LD ----------------------------------------------------------------------------


def test_complete_json_ld_body_is_used_when_the_page_shows_little():
    """A page whose visible body is rendered by script still states it in JSON-LD."""
    stated = json_ld(headline="Bridge vote", articleBody="\n\n".join(PARAGRAPHS))
    article = extract(page(head=stated, body="<div id='app'>Loading…</div>"))
    assert article.text == TEXT


def test_truncated_json_ld_body_is_not_a_body():
    stated = json_ld(headline="Bridge vote", articleBody=PARAGRAPHS[0] + " The council…")
    with pytest.raises(ExtractionError, match="no article body"):
        extract(page(head=stated, body="<div id='app'>Loading…</div>"))


def test_json_ld_body_given_as_escaped_html_becomes_paragraphs():
    body_html = "".join(f"&lt;p&gt;{p}&lt;/p&gt;" for p in PARAGRAPHS)
    stated = json_ld(headline="Bridge vote", articleBody=body_html)
    article = extract(page(head=stated, body="<div id='app'></div>"))
    assert article.text == TEXT


def test_json_ld_gives_headline_section_and_tags():
    stated = json_ld(
        headline="Council votes to rebuild the river bridge",
        articleSection="Local",
        keywords="bridge, council",
    )
    article = extract(page(head=stated, title="Bridge vote | The Example Times"))
    assert article.title == "Council votes to rebuild the river bridge"
    assert article.section == "Local"
    assert article.tags[:2] == ["bridge", "council"]


# -- dates ------------------------------------------------------------------------------


def test_json_ld_dates_are_exact_and_timezone_aware():
    stated = json_ld(
        datePublished="2024-03-15T09:30:00+05:30", dateModified="2024-03-15T12:00:00+05:30"
    )
    article = extract(page(head=stated))
    assert article.published_at == datetime(2024, 3, 15, 4, 0, tzinfo=UTC)
    assert article.updated_at == datetime(2024, 3, 15, 6, 30, tzinfo=UTC)


def test_meta_tag_dates_when_there_is_no_json_ld():
    head = (
        '<meta property="article:published_time" content="2024-03-15T09:30:00-04:00">'
        '<meta property="article:modified_time" content="2024-03-14T08:00:00Z">'
    )
    article = extract(page(head=head))
    assert article.published_at == datetime(2024, 3, 15, 13, 30, tzinfo=UTC)
    assert article.updated_at is None  # "modified" before published is not an update


def test_date_from_the_url_when_the_markup_states_none():
    article = extract(page(), url="https://news.example.com/2023/07/04/bridge-vote.html")
    assert article.published_at == datetime(2023, 7, 4, tzinfo=UTC)


def test_date_from_the_visible_text():
    body = "<p class='date'>Published 12 May 2022</p>" + "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    article = extract(page(body=body))
    assert article.published_at is not None
    assert article.published_at.date().isoformat() == "2022-05-12"
    assert article.published_at.tzinfo is not None


def test_no_date_anywhere_is_none_never_the_crawl_date():
    article = extract(page())
    assert article.published_at is None
    assert article.crawled_at == CRAWLED


def test_a_date_after_the_crawl_or_a_placeholder_is_not_a_publish_date():
    future = json_ld(datePublished="2031-01-01T00:00:00Z")
    assert extract(page(head=future)).published_at is None
    placeholder = json_ld(datePublished="0001-01-01T00:00:00")
    assert extract(page(head=placeholder)).published_at is None


def test_the_feed_date_fills_in_when_the_page_has_none():
    listed = datetime(2024, 1, 2, 3, 4, tzinfo=UTC)
    assert extract(page(), feed_published_at=listed).published_at == listed


# -- authors ----------------------------------------------------------------------------


def test_json_ld_authors_without_by_and_without_the_organisation():
    stated = json_ld(
        author=[
            {"@type": "Person", "name": "By Mira Patel"},
            {"@type": "Organization", "name": "Example News"},
        ]
    )
    assert extract(page(head=stated)).authors == ["Mira Patel"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["By Jane Doe and John Smith"], ["Jane Doe", "John Smith"]),
        (["Analysis by Chris Lee; CNN Editor-at-large"], ["Chris Lee"]),
        (["Sarah E Needleman"], ["Sarah E Needleman"]),
        (["JANIE HAR"], ["Janie Har"]),
        (["Doe, Jane"], ["Jane Doe"]),
        (["Greg Beacham; AP Sports Writer"], ["Greg Beacham"]),
        (["Por Joana Conceição e Rui Costa"], ["Joana Conceição", "Rui Costa"]),
        (["Example News", "Staff", "admin", "news.example.com"], []),
        (["https://example.com/authors/jane", "jane@example.com"], []),
        (["Jeff Foust Monday; November"], ["Jeff Foust"]),
    ],
)
def test_authors_are_normalised(raw: list[str], expected: list[str]):
    sites = site_names("Example News", url="https://news.example.com/a")
    assert normalise_authors(raw, sites) == expected


def test_a_byline_that_is_the_site_name_is_dropped():
    head = (
        '<meta name="author" content="Example Times">'
        '<meta property="og:site_name" content="Example Times">'
    )
    assert extract(page(head=head)).authors == []


# -- language ---------------------------------------------------------------------------


def test_language_is_detected_from_the_text_over_a_wrong_declaration():
    portuguese = (
        "A câmara municipal aprovou na terça-feira a reconstrução da velha ponte sobre o rio, "
        "pondo fim a um debate que dividia os bairros das duas margens há quase três anos. "
        "Os engenheiros disseram que a estrutura atual só aguenta mais dois invernos."
    )
    article = extract(page(body=f"<p>{portuguese}</p>", lang="en"))
    assert article.language == "pt"


def test_language_declared_by_the_page_when_the_text_cannot_tell():
    assert detect_language("OK 2024", "de-AT") == "de"
    assert detect_language("A long enough English sentence about the bridge vote.", None) == "en"


# -- encodings --------------------------------------------------------------------------

LATIN = "Câmara aprova a reconstrução da ponte: três anos de debate chegam ao fim"


def latin_page(charset_meta: str) -> bytes:
    body = "".join(f"<p>{LATIN}. {p}</p>" for p in PARAGRAPHS)
    html = page(head=charset_meta, body=body, lang="pt").replace('<meta charset="utf-8">', "")
    return html.encode("cp1252")


def test_bytes_are_decoded_with_the_charset_the_page_declares():
    article = extract(latin_page('<meta charset="windows-1252">'))
    assert LATIN in article.text


def test_a_lying_utf8_header_does_not_garble_a_windows_1252_page():
    article = extract(latin_page(""), content_type="text/html; charset=utf-8")
    assert LATIN in article.text
    assert "\ufffd" not in article.text


def test_utf8_bytes_beat_a_latin1_label():
    html = page(body="".join(f"<p>{LATIN}. {p}</p>" for p in PARAGRAPHS)).encode("utf-8")
    article = extract(html, content_type="text/html; charset=ISO-8859-1")
    assert LATIN in article.text


def test_an_xhtml_declaration_with_an_encoding_is_no_obstacle():
    xhtml = '<?xml version="1.0" encoding="utf-8"?>\n' + page()
    assert extract(xhtml).text == TEXT
    assert extract(xhtml.encode("utf-8")).text == TEXT


def test_control_characters_do_not_lose_the_page_and_binary_is_refused():
    assert extract(page().replace("river bridge", "river\x00 bridge")).text == TEXT
    with pytest.raises(ExtractionError):
        extract(bytes(range(256)) * 40)


def test_decode_html_handles_boms_and_undeclared_bytes():
    assert decode_html(b"\xef\xbb\xbf<p>ol\xc3\xa1</p>") == "<p>olá</p>"
    assert decode_html("<p>olá</p>".encode("utf-16")) == "<p>olá</p>"
    sniffed = decode_html(("<p>" + LATIN * 5 + "</p>").encode("cp1252"))
    assert LATIN in sniffed


# -- the bundled demo sites -------------------------------------------------------------

MANIFEST = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
REEL_NEWS_ARTICLES = [a for a in MANIFEST["articles"] if a["source"] == "reel-news"]
REEL_NEWS_CHROME = [
    "We value your privacy",
    "cookies",
    "Log in",
    "Become a member",
    "Menu",
    "Sponsored",
    "Read next",
    "Topics",
    "WhatsApp",
    "Copy link",
    "More from Reel News",
    "The Reel Sheet",
    "Most read this week",
    "Independent entertainment journalism",
    "Reel News Media Ltd",
    "Screens, stages and the stars on them",
]


def demo_page(entry: dict, base: str) -> str:
    site_dir = DEMO_DIR / MANIFEST["outlets"][entry["source"]]["site_dir"]
    return (site_dir / entry["path"]).read_text(encoding="utf-8").replace("__BASE_URL__", base)


@pytest.mark.parametrize("entry", MANIFEST["articles"], ids=lambda entry: entry["slug"])
def test_demo_site_articles_extract_with_their_metadata(entry: dict):
    base = "http://demo.example"
    article = extract(demo_page(entry, base), url=f"{base}/{entry['path']}")
    assert article.title == entry["title"]
    assert article.authors == entry["authors"]
    assert article.published_at == datetime.fromisoformat(entry["published_at"])
    assert article.section == entry["section"]
    assert article.language == "en"
    assert set(entry["tags"]) <= set(article.tags)
    assert "Related stories" not in article.text


BODY_BLOCKS = '//div[@class="rn-story__body"]/*[self::p or self::h2 or self::h3]'
OTHER_STORIES = '//aside[@class="rn-readnext"]//a | //section[@class="rn-more"]//a'


@pytest.mark.parametrize("entry", REEL_NEWS_ARTICLES, ids=lambda entry: entry["slug"])
def test_reel_news_pages_extract_to_their_story_without_the_chrome(entry: dict):
    """The second outlet's layout: the standfirst and every body block in order, no chrome."""
    base = "http://reel.example"
    html = demo_page(entry, base)
    tree = lxml_html.document_fromstring(html)
    blocks = [" ".join(b.text_content().split()) for b in tree.xpath(BODY_BLOCKS)]
    standfirst = " ".join(tree.xpath('string(//p[@class="rn-story__dek"])').split())
    other_stories = [" ".join(a.text_content().split()) for a in tree.xpath(OTHER_STORIES)]
    assert len(blocks) >= 5
    assert other_stories

    text = extract(html, url=f"{base}/{entry['path']}").text
    assert text.splitlines() == [standfirst, *blocks]
    for chrome in REEL_NEWS_CHROME + other_stories:
        assert chrome not in text, chrome


def test_fixture_pages_exist():
    data = Path(__file__).parents[1] / "data" / "extraction"
    assert (data / "harbour-ferry.html").is_file()
    assert (data / "festa-da-colheita.html.gz").is_file()


# -- what the extraction skips to stay fast ----------------------------------------------

TEXT_DATE_BODY = "<p>Published 12 May 2022</p>" + "".join(f"<p>{p}</p>" for p in PARAGRAPHS)


def test_a_listing_date_skips_the_search_of_the_visible_text():
    """The feed's date is exact; htmldate's extensive search would only find a day."""
    listed = datetime(2024, 1, 2, 3, 4, tzinfo=UTC)
    assert extract(page(body=TEXT_DATE_BODY)).published_at.date().isoformat() == "2022-05-12"
    assert extract(page(body=TEXT_DATE_BODY), feed_published_at=listed).published_at == listed


def test_the_pages_own_dates_still_win_over_a_listing_date():
    listed = datetime(2024, 1, 2, 3, 4, tzinfo=UTC)
    stated = json_ld(datePublished="2023-06-01T08:00:00Z")
    assert extract(page(head=stated), feed_published_at=listed).published_at == datetime(
        2023, 6, 1, 8, 0, tzinfo=UTC
    )
    in_url = extract(
        page(), url="https://news.example.com/2023/07/04/bridge.html", feed_published_at=listed
    )
    assert in_url.published_at == datetime(2023, 7, 4, tzinfo=UTC)


def test_language_is_detected_from_the_head_of_the_text():
    portuguese = (
        "A câmara municipal aprovou na terça-feira a reconstrução da velha ponte sobre o rio, "
        "pondo fim a um debate que dividia os bairros das duas margens há quase três anos. "
    )
    english = " ".join(PARAGRAPHS)
    assert detect_language(portuguese * 8 + english * 20, "en") == "pt"
    assert detect_language(english * 3 + portuguese * 40, "pt") == "en"


def test_a_short_fast_extraction_is_done_again_with_trafilaturas_comparison():
    """The fast mode's one miss on the benchmark took a 273-character teaser for the story."""
    paragraphs = [f"{n}. {p}" for n in range(3) for p in PARAGRAPHS]
    story = "<body>" + "".join(f"<p>{p}</p>" for p in paragraphs) + "</body>"
    tree = lxml_html.document_fromstring(page())
    asked: list[str] = []

    def slow_content() -> etree._Element:
        asked.append("again")
        return etree.fromstring(story)

    teaser = etree.fromstring("<body><p>Only the caption under the photo, no story.</p></body>")
    text = body_text_of(teaser, tree, ["Bridge vote"], JsonLdArticle(), slow_content=slow_content)
    assert text == "\n".join(paragraphs)
    assert asked == ["again"]
    long_enough = etree.fromstring(story)
    body_text_of(long_enough, tree, ["Bridge vote"], JsonLdArticle(), slow_content=slow_content)
    assert asked == ["again"]


def test_a_fast_extraction_made_of_a_menu_is_done_again_with_trafilaturas_comparison():
    """One benchmark page's fast extraction was its site's menu, 850 lines of a few words."""
    menu = "\n".join(f"Local news {n}" for n in range(60))
    tree = lxml_html.document_fromstring(page())
    asked: list[str] = []

    def content(text: str) -> etree._Element:
        body = etree.Element("body")
        etree.SubElement(body, "p").text = text
        return body

    def slow_story() -> etree._Element:
        asked.append("again")
        return content(TEXT)

    text = body_text_of(
        content(menu), tree, ["Bridge vote"], JsonLdArticle(), slow_content=slow_story
    )
    assert asked == ["again"]
    assert text == TEXT

    def slow_menu() -> etree._Element:
        asked.append("again")
        return content(menu + "\nContact")

    text = body_text_of(
        content(menu), tree, ["Bridge vote"], JsonLdArticle(), slow_content=slow_menu
    )
    assert text == menu  # the comparison found no better: the first extraction stays
    assert asked == ["again", "again"]


# -- a doubtful extraction done again with the precision focus ---------------------------

SHORT_STORY = (
    "The home care service in the Friendship district found two of its five vans broken into "
    "this morning. The batteries were gone and the doors were damaged. A police report was "
    "filed and officers came to inspect the vehicles. Patients booked for this morning are "
    "being given new appointments, and the health department expects visits to resume this "
    "afternoon."
)


def short_news_page() -> str:
    """A town hall's news item (shaped like a benchmark page): the story is bare text with
    <br>s in a layout column, after a date/byline/category line, beside an archive menu."""
    archive = "".join(
        f'<li><a href="/news.php?y={y}&m={m}">Month {m} <span>({m * 3})</span></a></li>'
        for y in (2017, 2018)
        for m in range(1, 13)
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>Clinic vans broken into overnight</title></head><body>"
        f'<div class="container"><div class="row"><div class="col-md-3"><ul>{archive}</ul></div>'
        '<div class="col-md-9"><p class="title">Clinic vans broken into overnight</p>'
        '<small class="text-muted"><b>05/10/2018</b> - Posted by: Clara Borba - Category: '
        '<a href="/news.php?cat=19">Health</a> - Tags: <a href="/news.php?tag=vans">vans</a>'
        f"</small><br><br>{SHORT_STORY}<br><br><br>"
        '<div class="row"><div class="col-md-12"><a href="#">Facebook</a> <a href="#">Twitter</a>'
        "</div></div></div></div><footer><p>City Hall - 1111 Walter Street - Phone: "
        "(047) 2106-8000</p></footer></div></body></html>"
    )


def test_a_short_extraction_is_done_again_with_the_precision_focus():
    """On a short page the recall focus's extra line (date, byline, category) is a large
    share of the text; the precision focus leaves it out."""
    html = short_news_page()
    url = "https://city.example.gov/news/vans"
    titles = ["Clinic vans broken into overnight"]
    recall = cleaned_text(main_content(_parse(html, None)), titles)
    assert recall.startswith("05/10/2018 - Posted by: Clara Borba")
    assert len(recall) < CHOICES.precise_below
    assert extract(html, url=url).text == SHORT_STORY


def content_of(text: str) -> etree._Element:
    body = etree.Element("body")
    for line in text.splitlines():
        etree.SubElement(body, "p").text = line
    return body


def finish(first: str, precise: str, choices: Choices = CHOICES) -> tuple[str, list[bool]]:
    """`first` as the extraction, `precise` as the precision focus's; the modes asked."""
    asked: list[bool] = []

    def precise_content(fast: bool) -> etree._Element:
        asked.append(fast)
        return content_of(precise)

    tree = lxml_html.document_fromstring(page())
    text = body_text_of(
        content_of(first),
        tree,
        ["Bridge vote"],
        JsonLdArticle(),
        choices,
        precise_content=precise_content,
    )
    return text, asked


def test_the_precision_focus_is_kept_only_when_it_finds_a_body():
    byline = "05/10/2018 - Posted by: Clara Borba - Category:"
    # under 500 characters in fast mode: asked again with trafilatura's comparison too
    assert finish(f"{byline}\n{TEXT}", TEXT) == (TEXT, [True, False])
    # too short to be a story, in fast mode and with trafilatura's comparison: ours stays
    assert finish(f"{byline}\n{TEXT}", byline) == (f"{byline}\n{TEXT}", [True, False])
    long_story = "\n".join(f"{n}. {p}" for n in range(3) for p in PARAGRAPHS)
    assert len(long_story) >= CHOICES.precise_below
    assert finish(long_story, TEXT) == (long_story, [])  # long enough: never asked


def test_a_run_on_block_is_done_again_with_the_precision_focus_when_chosen():
    block = " ".join([f"Menu Home News | {' '.join(PARAGRAPHS)}"] * 3)
    paragraphs = "\n".join(f"{n}. {p}" for n in range(3) for p in PARAGRAPHS)
    assert run_on(block)
    assert not run_on(paragraphs)
    assert not run_on(TEXT)  # short: three paragraphs may be one line on a short page
    blob = replace(CHOICES, precise_blob=True)
    assert finish(block, paragraphs, blob) == (paragraphs, [True])
    assert finish(block, block + " More", blob) == (block, [True])  # still one block: ours
    assert finish(block, paragraphs, replace(blob, precise_blob=False)) == (block, [])
