"""What the search page says about a story's revisions, its date and its extraction
(issue 17), in headless Chromium over `newsagg api` and an index of made-to-measure
articles (the revised ones made by the domain's own `revise`, as the indexer makes them)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from chromium_session import screenshot
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.article import Article, DateSource, Quality, revise
from playwright.sync_api import Page, expect
from support.pipeline import Pipeline, pipeline_env
from support.servers import wait_until

pytestmark = pytest.mark.e2e
NOW = datetime.now(UTC).replace(microsecond=0)
OLD_HEADLINE = "Festival opens"
NEW_HEADLINE = "Festival opens to record crowds"
OLD_LAST = "The jury will announce its awards on the closing night."
NEW_LAST = "The jury will announce its awards on Sunday night."
PARAGRAPHS = [
    "The festival opened on Friday with a screening of the restored classic.",
    "Organisers said ticket sales were the highest in the festival's history.",
]


def story(slug: str, title: str, last: str, age: timedelta, **fields: object) -> Article:
    return Article.create(
        url=f"https://festival.example/{slug}",
        source="festival-news",
        title=title,
        text="\n".join([*PARAGRAPHS, last]),
        crawled_at=NOW - age,
        **fields,
    )


def dated(hours: float) -> dict[str, object]:
    return {
        "published_at": NOW - timedelta(hours=hours),
        "date_source": DateSource.FEED,
        "date_confidence": 0.8,
    }


def articles() -> dict[str, Article]:
    day = timedelta(days=1)
    headline = revise(
        story("headline", OLD_HEADLINE, OLD_LAST, day, **dated(30)),
        story("headline", NEW_HEADLINE, NEW_LAST, timedelta(hours=2), **dated(30)),
    )
    text_only = revise(
        story("text", "Jury named", OLD_LAST, day, **dated(29)),
        story("text", "Jury named", NEW_LAST, timedelta(minutes=30), **dated(29)),
    )
    undated = story("undated", "Festival diary", OLD_LAST, day)
    doubtful = story(
        "doubtful",
        "Subscribers only",
        OLD_LAST,
        day,
        quality=Quality.LOW,
        quality_score=0.2,
        quality_reasons=["paywall"],
        **dated(28),
    )
    return {"headline": headline, "text": text_only, "undated": undated, "doubtful": doubtful}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Pipeline, dict[str, Article]]]:
    root = tmp_path_factory.mktemp("revision-marks")
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


def test_results_say_what_changed_where_the_date_is_from_and_doubtful_text(
    page: Page, api: tuple[Pipeline, dict[str, Article]]
):
    running, _ = api
    page.goto(f"{running.url}/?sort=date")
    expect(page.locator("#results .hit")).to_have_count(4)

    changed = hit(page, NEW_HEADLINE).locator(".revised")
    expect(changed).to_have_text(re.compile(r"^updated [23] hr\.? ago: headline changed$"))
    expect(changed).to_have_attribute("title", re.compile(f"revision 2; .*was: “{OLD_HEADLINE}”"))
    expect(hit(page, "Jury named").locator(".revised")).to_have_text(
        re.compile(r"^updated \d+ min\.? ago: text changed$")  # NOW is taken at collection
    )
    expect(hit(page, NEW_HEADLINE).locator("time")).to_have_attribute(
        "title", "date from the feed (confidence 80 %)"
    )

    undated = hit(page, "Festival diary")
    expect(undated.locator(".date-unknown")).to_have_text("date unknown")
    expect(undated.locator("time")).to_have_count(0)
    expect(undated.locator(".revised")).to_have_count(0)
    expect(hit(page, "Subscribers only").locator(".quality-low")).to_have_text(
        "low-quality extraction"
    )
    expect(page.locator("#results .quality-low")).to_have_count(1)
    screenshot(page, "search-results-revisions")
    assert Axe().run(page).violations_count == 0


def test_the_extraction_filter_leaves_out_doubtful_text(
    page: Page, api: tuple[Pipeline, dict[str, Article]]
):
    running, _ = api
    page.goto(f"{running.url}/?sort=date")
    expect(page.locator("#results .hit")).to_have_count(4)
    page.get_by_label("Extraction", exact=True).select_option("ok")
    expect(page.locator("#results .hit")).to_have_count(3)
    expect(page.locator("#results .quality-low")).to_have_count(0)
    expect(page.locator("#active-filters")).to_contain_text("Extraction: good only")
    assert "quality=ok" in page.url
    expect(page.locator("#csv-link")).to_have_attribute("href", re.compile("quality=ok"))
    page.get_by_label("Extraction", exact=True).select_option("low")
    expect(page.locator("#results .hit")).to_have_count(1)
    expect(hit(page, "Subscribers only")).to_have_count(1)
    page.get_by_role("button", name="Remove filter Extraction: low-quality only").click()
    expect(page.locator("#results .hit")).to_have_count(4)
    assert "quality" not in page.url


def test_the_article_view_shows_the_last_change(
    page: Page, api: tuple[Pipeline, dict[str, Article]]
):
    running, made = api
    page.goto(f"{running.url}/?article={made['headline'].id}")
    expect(page.locator("#article-title")).to_have_text(NEW_HEADLINE)
    changes = page.locator("#article-changes")
    expect(changes).to_be_visible()
    expect(changes.locator("#change-note")).to_contain_text("headline changed")
    expect(changes.locator("#change-note")).to_contain_text(f"(was “{OLD_HEADLINE}”)")
    changes.locator("summary").click()
    expect(changes.locator("summary")).to_have_text("What changed from revision 1 to 2")
    expect(changes.locator(".diff .removed")).to_have_text(f"-{OLD_LAST}\n")
    expect(changes.locator(".diff .added")).to_have_text(f"+{NEW_LAST}\n")
    assert Axe().run(page).violations_count == 0

    page.goto(f"{running.url}/?article={made['doubtful'].id}")
    expect(page.locator("#article-title")).to_have_text("Subscribers only")
    expect(page.locator("#article-meta .quality-low")).to_have_attribute(
        "title", re.compile(r"\(paywall\)")
    )
    expect(page.locator("#article-changes")).to_be_hidden()
