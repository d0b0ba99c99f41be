"""The crawler's `mentions`: the people a page's own JSON-LD says it is about or mentions."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from newsagg.crawler.extraction import extract_article

from newsagg.cli.demo_site import DEMO_DIR, MANIFEST_PATH, page_text

CRAWLED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

# Shaped like a large publisher's page: a @graph with the WebPage, the article (authors as
# Person, a Person and an Event it is about, mentions mixing a Person, an Organization, a
# CreativeWork and a bare string), a BreadcrumbList and the site's Organization.
GRAPH = {
    "@context": "https://schema.org",
    "@graph": [
        {
            "@type": "WebPage",
            "@id": "https://www.example-times.com/film/naina-sehgal-injury#webpage",
            "name": "Naina Sehgal hurt on the set of 'Sandstorm'",
        },
        {
            "@type": ["NewsArticle", "ReportageNewsArticle"],
            "headline": "Naina Sehgal hurt on the set of 'Sandstorm', shoot paused",
            "datePublished": "2026-11-02T10:15:00+05:30",
            "author": [{"@type": "Person", "name": "Ira Khanna", "url": "/staff/ira"}],
            "keywords": ["Naina Sehgal", "Bollywood", "Jaisalmer"],
            "about": [
                {"@type": "Person", "name": "Naina  Sehgal", "sameAs": "https://w.example/q1"},
                {"@type": "Event", "name": "Sandstorm shoot"},
            ],
            "mentions": [
                {"@type": "Person", "name": "Raghav Menon"},
                {"@type": "Organization", "name": "Westwind Pictures"},
                {"@type": "Movie", "name": "Sandstorm"},
                "Jaisalmer",
                {"@type": ["Person", "Thing"], "name": "Naina Sehgal"},
            ],
            "publisher": {"@type": "Organization", "name": "The Example Times"},
        },
        {
            "@type": "BreadcrumbList",
            "itemListElement": [{"@type": "ListItem", "position": 1, "name": "Film"}],
        },
    ],
}
PARAGRAPHS = (
    "Naina Sehgal was taken to hospital in Jaisalmer on Sunday after a fall during a riding "
    "sequence for 'Sandstorm', and the production has paused filming for a week.",
    "Director Raghav Menon said the actor had sprained her wrist and was in good spirits, and "
    "that the unit would use the break to move the camp closer to the dunes.",
    "Westwind Pictures, which is producing the film, said the release date would not change.",
)


def news_page(ld: dict[str, object]) -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>Naina Sehgal hurt on set | The Example Times</title>"
        '<meta property="article:tag" content="Raghav Menon">'
        f'<script type="application/ld+json">{json.dumps(ld)}</script></head>'
        "<body><header><nav><a href='/'>Home</a> <a href='/film'>Film</a></nav></header>"
        "<article><h1>Naina Sehgal hurt on the set of 'Sandstorm', shoot paused</h1>"
        '<p class="byline">By <a rel="author" href="/staff/ira">Ira Khanna</a></p>'
        f"{paragraphs}</article><footer>(c) The Example Times</footer></body></html>"
    )


def extract(html: str):
    return extract_article(
        html,
        url="https://www.example-times.com/film/naina-sehgal-injury",
        source="example-times",
        crawled_at=CRAWLED,
    )


def test_mentions_are_the_people_of_about_and_mentions_once_each():
    article = extract(news_page(GRAPH))
    assert article.mentions == ["Naina Sehgal", "Raghav Menon"]


def test_authors_tags_and_organisations_are_not_mentions():
    article = extract(news_page(GRAPH))
    assert "Ira Khanna" in article.authors
    assert "Ira Khanna" not in article.mentions
    assert not {"Westwind Pictures", "Sandstorm", "Jaisalmer"} & set(article.mentions)


def test_a_page_whose_metadata_names_no_person_has_no_mentions():
    article_ld = dict(GRAPH["@graph"][1])  # type: ignore[index]
    del article_ld["about"], article_ld["mentions"]
    article = extract(news_page({"@context": "https://schema.org", **article_ld}))
    assert article.mentions == []
    assert "Raghav Menon" in article.tags  # named by a tag, which is not a mention


def test_demo_pages_yield_the_people_their_json_ld_states():
    manifest = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    stated = [a for a in manifest["articles"] if a["mentions"]]
    assert stated, "the demo states people in JSON-LD"
    for entry in stated:
        site = DEMO_DIR / manifest["outlets"][entry["source"]]["site_dir"]
        article = extract_article(
            page_text(site, entry["path"], "http://127.0.0.1:8000"),
            url=f"http://127.0.0.1:8000/{entry['path']}",
            source=entry["source"],
            crawled_at=CRAWLED,
        )
        assert article.mentions == entry["mentions"], entry["slug"]
