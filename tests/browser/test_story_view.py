"""What the search page shows of stories, copies and people (issue 18), in headless Chromium
over `newsagg api` and an index of articles built as the enrichment stage leaves them
(duplicate_group, duplicate_of, story_id and people set here by hand)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from chromium_session import screenshot
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.article import Article, DateSource
from playwright.sync_api import Page, expect
from support.pipeline import Pipeline, pipeline_env
from support.servers import wait_until

pytestmark = pytest.mark.e2e
FIRST = datetime(2026, 10, 2, 9, tzinfo=UTC)
SOMAN = "Milind Soman"
KONWAR = "Ankita Konwar"
HOSTILE = 'Crowds cheer Soman <img src=x onerror="window.pwned=1">'
AGENCY = [
    "Actor Milind Soman set off from Mumbai on Friday on a cycling ride to Delhi.",
    "Soman plans to cover the 1,400 kilometres in twelve days.",
]


def article(slug: str, source: str, title: str, text: str, hours: float) -> Article:
    published = FIRST + timedelta(hours=hours)
    return Article.create(
        url=f"https://{source}.example/{slug}",
        source=source,
        title=title,
        text=text,
        crawled_at=published + timedelta(minutes=10),
        published_at=published,
        date_source=DateSource.META,
        date_confidence=0.9,
    )


def enriched(item: Article, group: Article, story: Article, *people: str) -> Article:
    return item.model_copy(
        update={
            "enrichment": 1,
            "duplicate_group": group.id,
            "duplicate_of": None if item.id == group.id else group.id,
            "story_id": story.id,
            "people": list(people),
        }
    )


def articles() -> dict[str, Article]:
    wire = article(
        "ride", "wire-india", "Milind Soman starts Mumbai-Delhi ride", "\n".join(AGENCY), 0
    )
    copy = article("cycling", "city-post", "Soman pedals for schools", "\n".join(AGENCY), 1)
    own = article("report", "film-beat", HOSTILE, "Hundreds cheered Milind Soman at the start.", 3)
    studio = article("studio", "wire-india", "Soman and Konwar open a studio", "A studio.", 24)
    return {
        "wire": enriched(wire, wire, wire, SOMAN),
        "copy": enriched(copy, wire, wire, SOMAN),
        "own": enriched(own, own, wire, SOMAN),
        "studio": enriched(studio, studio, studio, SOMAN, KONWAR),
    }


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Pipeline, dict[str, Article]]]:
    root = tmp_path_factory.mktemp("story-view")
    made = articles()
    store = TantivyStore(root / "data" / "index", writable=True)
    store.ensure_schema()
    assert store.upsert(list(made.values())).written == len(made)
    store.close()
    running = Pipeline(pipeline_env(root / "data"), root, commands=("api",))
    try:
        wait_until(lambda: running.indexed() == len(made), 30, "the API over the index")
        yield running, made
    finally:
        running.stop()


def hit(page: Page, title: str):
    return page.locator("#results .hit").filter(has=page.get_by_role("link", name=title))


def test_a_story_covered_by_several_outlets_opens_its_timeline(
    page: Page, api: tuple[Pipeline, dict[str, Article]]
):
    running, made = api
    page.goto(f"{running.url}/?sort=date")
    # the wire text and its copy are one hit, the newest copy standing for both
    expect(page.locator("#results .hit")).to_have_count(3)
    expect(page.locator("#results-heading")).to_have_text(
        "4 articles, newest first; 3 with copies shown once"
    )
    copy = hit(page, made["copy"].title)
    expect(copy.locator(".copies")).to_have_text("+1 copy")
    expect(hit(page, made["studio"].title).locator(".outlets")).to_have_count(0)
    outlets = copy.get_by_role("link", name="3 outlets")
    expect(outlets).to_have_attribute("title", re.compile("^3 articles from 3 outlets"))

    outlets.click()
    expect(page.locator("#story-view")).to_be_visible()
    expect(page.locator("#search-view")).to_be_hidden()
    assert f"story={made['wire'].id}" in page.url
    expect(page.locator("#story-title")).to_have_text(made["wire"].title)
    expect(page.locator("#story-meta")).to_contain_text(
        "3 articles from 3 outlets · first: wire-india"
    )
    items = page.locator("#story-articles li")
    expect(items).to_have_count(3)
    expect(items.locator(".story-headline .source")).to_have_text(
        ["wire-india", "city-post", "film-beat"]
    )
    expect(items.nth(0).locator(".first-mark")).to_have_text("first published")
    expect(page.locator("#story-articles .first-mark")).to_have_count(1)
    expect(items.nth(1).locator(".meta")).to_contain_text(re.compile(r"· 1 hr later$"))
    expect(items.nth(1).locator(".copies")).to_have_text("copy")
    expect(items.nth(2).locator(".meta")).to_contain_text(re.compile(r"· 3 hrs? later$"))
    # a crawled headline is text, never markup
    expect(items.nth(2).get_by_role("link")).to_have_text(HOSTILE)
    expect(page.locator("#story-view img")).to_have_count(0)
    assert page.evaluate("window.pwned") is None
    expect(page.locator("#story-people li")).to_have_text([SOMAN])
    screenshot(page, "story-view")
    assert Axe().run(page).violations_count == 0

    items.nth(1).get_by_role("link").click()
    expect(page.locator("#article-title")).to_have_text(made["copy"].title)
    page.go_back()
    expect(page.locator("#story-title")).to_have_text(made["wire"].title)
    page.get_by_role("link", name="Back to results").click()
    expect(page.locator("#results .hit")).to_have_count(3)


def test_show_all_copies_lists_every_article(page: Page, api: tuple[Pipeline, dict[str, Article]]):
    running, made = api
    page.goto(f"{running.url}/?sort=date")
    expect(page.locator("#results .hit")).to_have_count(3)
    page.get_by_label("Show all copies").check()
    expect(page.locator("#results .hit")).to_have_count(4)
    assert "collapse=none" in page.url
    expect(page.locator("#results-heading")).to_have_text("4 articles, newest first")
    expect(page.locator("#results .copies")).to_have_count(0)
    copy_of = hit(page, made["copy"].title).get_by_role("link", name="copy of an earlier article")
    expect(copy_of).to_have_attribute("href", re.compile(f"article={made['wire'].id}"))
    # the feed and the export list every article anyway: the switch is not theirs
    expect(page.locator("#rss-link")).not_to_have_attribute("href", re.compile("collapse"))
    page.get_by_label("Show all copies").uncheck()
    expect(page.locator("#results .hit")).to_have_count(3)
    assert "collapse" not in page.url


def test_people_are_a_facet_that_filters(page: Page, api: tuple[Pipeline, dict[str, Article]]):
    running, made = api
    page.goto(f"{running.url}/?sort=date&collapse=none")
    people = page.locator("#facet-person")
    expect(people.locator("legend")).to_have_text("People")
    expect(people.locator(".facet-value")).to_have_text([SOMAN, KONWAR])
    expect(people.locator(".count")).to_have_text(["4", "1"])
    people.locator(f'input[value="{KONWAR}"]').check()
    expect(page.locator("#results .hit")).to_have_count(1)
    expect(hit(page, made["studio"].title)).to_have_count(1)
    expect(page.locator("#active-filters")).to_contain_text(f"Person: {KONWAR}")
    assert "person=Ankita+Konwar" in page.url
    expect(page.locator("#csv-link")).to_have_attribute("href", re.compile("person=Ankita"))
    # the other people still show their counts without the filter, to widen to them
    expect(people.locator(".count")).to_have_text(["4", "1"])
    page.get_by_role("button", name=f"Remove filter Person: {KONWAR}").click()
    expect(page.locator("#results .hit")).to_have_count(4)
    assert Axe().run(page).violations_count == 0


def test_a_story_s_people_link_to_their_articles(
    page: Page, api: tuple[Pipeline, dict[str, Article]]
):
    running, made = api
    page.goto(f"{running.url}/?story={made['studio'].id}")
    expect(page.locator("#story-title")).to_have_text(made["studio"].title)
    expect(page.locator("#story-articles li")).to_have_count(1)
    page.get_by_role("link", name=f"Search articles about {KONWAR}").click()
    expect(page.locator("#search-view")).to_be_visible()
    expect(page.locator("#results .hit")).to_have_count(1)
    expect(page.locator("#active-filters")).to_contain_text(f"Person: {KONWAR}")


def test_an_unknown_story_says_so(page: Page, api: tuple[Pipeline, dict[str, Article]]):
    running, _ = api
    page.goto(f"{running.url}/?story={'0' * 32}")
    expect(page.locator("#story-title")).to_have_text("Story not found")
    expect(page.get_by_role("alert")).to_contain_text("no story with id")


def test_an_article_links_to_its_story_and_its_original(
    page: Page, api: tuple[Pipeline, dict[str, Article]]
):
    running, made = api
    page.goto(f"{running.url}/?article={made['copy'].id}")
    expect(page.locator("#article-title")).to_have_text(made["copy"].title)
    meta = page.locator("#article-meta")
    expect(meta.get_by_role("link", name="copy of wire-india's article")).to_have_attribute(
        "href", re.compile(f"article={made['wire'].id}")
    )
    meta.get_by_role("link", name="covered by 3 outlets").click()
    expect(page.locator("#story-title")).to_have_text(made["wire"].title)
    page.goto(f"{running.url}/?article={made['studio'].id}")
    expect(page.locator("#article-title")).to_have_text(made["studio"].title)
    # similar coverage loads after the story note: once it shows, the note had its chance
    expect(page.locator("#similar li").first).to_be_visible()
    expect(page.locator("#article-meta a")).to_have_count(0)
