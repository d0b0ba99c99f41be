"""The demo corpus varied for matching saved searches: enriched (people, stories) and with
every filter's values present, plus a few articles for accents, plurals and odd tokens.

The demo pages share one language, date source and quality; the saved-search matcher's
tests need articles on both sides of every filter, so some are changed, deterministically
by position: another language, date source or quality, no publication date. People are the
names a text mentions (of CORPUS_PEOPLE); an article's story is the first article naming the same
show (of SHOWS), as enrichment would group them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from newsagg.core.article import Article, DateSource, Quality

from support.demo_corpus import demo_articles

CORPUS_PEOPLE = ("Milind Soman", "Rehan Ali", "Naina Sehgal", "Tara Mirchandani", "Aditi Varma")
SHOWS = ("Dance Ka Dangal", "Kesar Mahal", "Dhamaal Junction", "Paper Lanterns")
CRAWLED = datetime(2026, 11, 25, tzinfo=UTC)
EXTRA = (
    ("cafe-culture", "Café culture: Mumbai's cafés stay open late", "Mirabel Café"),
    ("cafe-plain", "A cafe owner remembers the naïve first years", "Ana Bóveda"),
    ("cyclists", "Cyclists and the cycling boom: e-mail from the road", "Jörg Müller"),
)


def _extra(slug: str, title: str, author: str) -> Article:
    return Article.create(
        url=f"https://alerts.example/{slug}",
        source="Alerts-Example",
        title=title,
        text=f"{title}. Written by {author} for the matching tests; Milind Soman was not there.",
        authors=[author],
        language="en",
        crawled_at=CRAWLED,
        published_at=datetime(2026, 11, 20, 8, tzinfo=UTC),
        date_source=DateSource.META,
        date_confidence=0.8,
    )


def alert_corpus() -> list[Article]:
    """The demo articles, varied and enriched, then EXTRA; the same list every call."""
    articles = demo_articles() + [_extra(*extra) for extra in EXTRA]
    stories: dict[str, str] = {}
    varied = []
    for position, article in enumerate(articles):
        body = f"{article.title}\n{article.text}"
        show = next((show for show in SHOWS if show in body), None)
        story = stories.setdefault(show, article.id) if show else article.id
        changes: dict[str, object] = {
            "enrichment": 1,
            "people": [person for person in CORPUS_PEOPLE if person in body],
            "story_id": story,
            "duplicate_group": article.id,
        }
        if position % 5 == 1:
            changes["language"] = "hi"
        if position % 7 == 2:
            changes["quality"] = Quality.LOW
        if position % 4 == 3:
            changes["date_source"] = DateSource.FEED
        if position % 11 == 4:
            changes |= {"published_at": None, "date_source": None, "date_confidence": None}
        varied.append(article.model_copy(update=changes))
    return varied
