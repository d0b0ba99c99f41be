"""An editor's visit to the search page, in headless Chromium, over `newsagg demo`."""

from __future__ import annotations

import csv
import io
import re
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from chromium_session import screenshot
from newsagg.api.security import new_key
from playwright.sync_api import Page, expect
from support.pipeline import Pipeline, pipeline_env
from support.servers import wait_until

pytestmark = pytest.mark.e2e
SEED_SENTENCE = 'She wrote, "Roadside romance while he\'s at his 150th km for the day."'


def reference(manifest: dict) -> dict:
    return next(a for a in manifest["articles"] if a["slug"] == manifest["reference_slug"])


def params(page: Page) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)


def hit_titles(page: Page) -> list[str]:
    return page.locator("#results .hit-title a").all_inner_texts()


def search(page: Page, demo: Pipeline, query: str) -> None:
    page.goto(demo.url + "/")
    page.get_by_label("Search articles").fill(query)
    page.get_by_label("Search articles").press("Enter")
    expect(page.locator("#results-heading")).to_contain_text(f"for “{query}”")


def test_an_editor_finds_reads_and_shares_the_reference_story(
    page: Page, demo: Pipeline, manifest: dict
):
    story = reference(manifest)
    search(page, demo, manifest["reference_query"])

    first = page.locator("#results .hit").first
    expect(first.locator(".hit-title a")).to_have_text(story["title"])
    marked = {m.lower() for m in first.locator(".snippet mark").all_inner_texts()}
    assert {"milind", "soman", "cycling"} <= marked
    expect(first.locator(".meta time")).to_have_attribute("datetime", re.compile("^2026-09-14"))
    shot = screenshot(page, "search-results")
    assert shot.stat().st_size > 10_000

    # A source facet narrows to that source, and the URL says so.
    source = first.locator(".meta .source").inner_text()
    page.locator(f'#facet-source input[value="{source}"]').check()
    expect(page.locator("#active-filters")).to_contain_text(f"Source: {source}")
    assert params(page)["sources"] == [source]
    expected = demo.api("/v1/search", q=manifest["reference_query"], sources=source)
    expect(page.locator("#results .hit")).to_have_count(len(expected["hits"]))
    assert set(page.locator("#results .meta .source").all_inner_texts()) == {source}

    # The timeline charts the matches per day; a bar narrows the dates to its day.
    timeline = demo.api("/v1/timeline", q=manifest["reference_query"], sources=source)
    bars = page.locator("#timeline .bar")
    expect(bars).to_have_count(len(timeline["buckets"]))
    day = datetime.fromisoformat(story["published_at"]).astimezone(UTC).date().isoformat()
    bar = page.locator(f'#timeline .bar[data-start="{day}"]')
    expect(bar).to_have_attribute("aria-label", re.compile(r": [1-9]\d* articles?$"))
    bar.click()
    expect(page.locator("#active-filters")).to_contain_text(f"Published: {day} to {day}")
    expect(bar).to_have_attribute("aria-pressed", "true")
    assert params(page)["from"] == params(page)["to"] == [day]
    expect(page.locator("#results .hit").first.locator(".hit-title a")).to_have_text(story["title"])
    shared_search = page.url

    # The article view: clean text, then similar coverage, one click away.
    page.locator("#results .hit-title a").first.click()
    expect(page.locator("#article-title")).to_have_text(story["title"])
    expect(page.locator("#article-body")).to_contain_text(SEED_SENTENCE)
    assert "Advertisement" not in page.locator("#article-body").inner_text()
    similar = page.locator("#similar li a")
    expect(similar.first).to_be_visible()
    next_title = similar.first.inner_text()
    similar.first.click()
    expect(page.locator("#article-title")).to_have_text(next_title)
    assert params(page)["article"] != [page_article_id(shared_search)]
    shared_article = page.url

    # Back goes to the story, and again to the narrowed results.
    page.go_back()
    expect(page.locator("#article-title")).to_have_text(story["title"])
    page.go_back()
    expect(page.locator("#search-view")).to_be_visible()
    assert page.url == shared_search
    expect(page.locator("#results .hit").first).to_be_visible()

    # The shared links open the same views in a new tab.
    results_before = hit_titles(page)
    other = page.context.new_page()
    other.goto(shared_search)
    expect(other.locator("#results .hit")).to_have_count(len(results_before))
    assert hit_titles(other) == results_before
    expect(other.get_by_label("Search articles")).to_have_value(manifest["reference_query"])
    expect(other.locator("#active-filters")).to_contain_text(f"Source: {source}")
    other.goto(shared_article)
    expect(other.locator("#article-title")).to_have_text(next_title)
    other.reload()
    expect(other.locator("#article-title")).to_have_text(next_title)


def page_article_id(url: str) -> str:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get("article", [""])[0]


def test_scrolling_reaches_every_article_once(page: Page, demo: Pipeline, manifest: dict):
    page.goto(demo.url + "/?collapse=none")  # every copy, not one result per copied text
    expect(page.locator("#results-heading")).to_have_text(
        f"{manifest['article_count']} articles, newest first"
    )
    for _ in range(10):
        if page.locator("#results .hit").count() == manifest["article_count"]:
            break
        page.locator("#more").scroll_into_view_if_needed()
        page.wait_for_timeout(300)
    expect(page.locator("#results-status")).to_have_text(f"All {manifest['article_count']} shown.")
    links = page.locator("#results .hit-title a")
    ids = [page_article_id(href) for href in links.evaluate_all("as => as.map(a => a.href)")]
    assert len(ids) == len(set(ids)) == manifest["article_count"]
    times = page.locator("#results .meta time").evaluate_all("ts => ts.map(t => t.dateTime)")
    assert times == sorted(times, key=datetime.fromisoformat, reverse=True)


def test_rss_and_csv_links_carry_the_current_search(page: Page, demo: Pipeline, manifest: dict):
    search(page, demo, "Soman")
    total = int(page.locator("#results-heading").inner_text().split()[0])
    csv_href = page.locator("#csv-link").get_attribute("href")
    rss_href = page.locator("#rss-link").get_attribute("href")
    assert csv_href
    assert rss_href
    rows = list(csv.reader(io.StringIO(page.request.get(f"{demo.url}/{csv_href}").text())))
    assert len(rows) - 1 == total
    assert all("soman" in (row[3] + row[-1]).lower() for row in rows[1:])
    feed = page.request.get(f"{demo.url}/{rss_href}")
    assert feed.headers["content-type"].startswith("application/rss+xml")
    assert feed.text().count("<item>") == total


def test_a_bad_query_says_where_it_is_wrong(page: Page, demo: Pipeline):
    page.goto(demo.url + "/")
    page.get_by_label("Search articles").fill('Soman "cycling')
    page.get_by_label("Search articles").press("Enter")
    expect(page.locator("#results-heading")).to_have_text("The query cannot be read")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Invalid query")
    expect(alert.locator(".query-position")).to_contain_text("^")
    expect(page.locator("#results .hit")).to_have_count(0)


def test_readable_on_a_phone_and_accessible(browser, demo: Pipeline, manifest: dict):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone = context.new_page()
    phone.goto(f"{demo.url}/?q={urllib.parse.quote(manifest['reference_query'])}")
    expect(phone.locator("#results .hit").first).to_be_visible()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px screen"
    screenshot(phone, "search-results-phone")
    results = Axe().run(phone)
    assert results.violations_count == 0, results.generate_snapshot()
    phone.locator("#results .hit-title a").first.click()
    expect(phone.locator("#similar li").first).to_be_visible()
    results = Axe().run(phone)
    assert results.violations_count == 0, results.generate_snapshot()
    context.close()


def test_keyboard_alone_can_search_and_narrow_by_date(page: Page, demo: Pipeline, manifest: dict):
    page.goto(demo.url + "/")
    page.keyboard.press("Tab")  # the skip link comes first
    expect(page.locator(".skip-link")).to_be_focused()
    page.get_by_label("Search articles").focus()
    page.keyboard.type(manifest["reference_query"])
    page.keyboard.press("Enter")
    expect(page.locator("#results .hit").first).to_be_visible()
    bars = page.locator("#timeline .bar")
    expect(bars.first).to_be_visible()
    bars.first.focus()
    page.keyboard.press("End")
    expect(bars.last).to_be_focused()
    page.keyboard.press("Enter")
    last_day = bars.last.get_attribute("data-start")
    expect(page.locator("#active-filters")).to_contain_text(f"Published: {last_day}")
    assert Axe().run(page).violations_count == 0


@pytest.fixture
def keyed_api(demo: Pipeline, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A second API process over the demo's index that needs a key: (its URL, the key)."""
    key, key_hash = new_key()
    # the demo's own data dir, where `newsagg demo` keeps its index
    env = pipeline_env(demo.data_dir / "demo", extra={"NEWSAGG_API_KEYS": key_hash})
    api = Pipeline(env, tmp_path, commands=("api",))
    try:
        wait_until(lambda: api.get("/healthz")[0] == 200, 30, "the keyed API")
        yield api.url, key
    finally:
        api.stop()


def test_a_keyed_api_asks_for_the_key_once_per_tab(page: Page, keyed_api: tuple[str, str]):
    url, key = keyed_api
    page.goto(f"{url}/?q=Soman")
    expect(page.get_by_role("alert")).to_contain_text("needs an API key")
    page.get_by_label(re.compile("This API needs a key")).fill(key)
    page.get_by_role("button", name="Use key").click()
    expect(page.locator("#results .hit").first).to_be_visible()
    expect(page.get_by_role("alert")).to_be_hidden()
    total = int(page.locator("#results-heading").inner_text().split()[0])
    with page.expect_download() as download:
        page.locator("#csv-link").click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert len(rows) - 1 == total
    page.reload()
    expect(page.locator("#results .hit").first).to_be_visible()
    expect(page.locator("#key-panel")).to_be_hidden()


def test_the_api_documentation_works_offline(page: Page, demo: Pipeline):
    hosts: set[str] = set()
    page.on("request", lambda r: hosts.add(urllib.parse.urlsplit(r.url).netloc))
    page.goto(demo.url + "/")
    page.get_by_role("link", name="API documentation").click()
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("newsagg search API")
    expect(page.get_by_text("Search articles").first).to_be_visible()
    assert hosts == {urllib.parse.urlsplit(demo.url).netloc}


def test_a_missing_article_is_said_so_without_empty_parts(page: Page, demo: Pipeline):
    page.goto(f"{demo.url}/?article=no-such-id")
    expect(page.locator("#article-title")).to_have_text("Article not found")
    expect(page.get_by_role("alert")).to_contain_text("no article with id 'no-such-id'")
    expect(page.locator("#article-original")).to_be_hidden()
    expect(page.locator("#similar-section")).to_be_hidden()
    page.get_by_role("link", name="Back to results").click()
    expect(page.locator("#results .hit").first).to_be_visible()
    expect(page.get_by_role("alert")).to_be_hidden()
