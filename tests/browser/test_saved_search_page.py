"""Saved searches on the search page (issue 19), in headless Chromium.

The first tests run `newsagg api` over a small index of made articles: saving from a result
view, the list with its status and actions, hostile names, new-since-last-visit marks (the
worker's matches written into the same alert store file, as `newsagg alerts` writes them).
The last one runs the demo pipeline with `newsagg alerts`: a search saved on the page, a new
article published on the pipeline's bus, and both the page and a webhook receiver on
127.0.0.1 (checking the signature with the secret the page showed) see it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from chromium_session import screenshot
from newsagg.core.adapters import open_alert_store, open_bus
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.alerts.model import Match
from newsagg.core.article import Article, DateSource
from newsagg.core.ports import ARTICLES_TOPIC
from playwright.sync_api import Page, expect
from support.pipeline import Pipeline, indexed_pipeline, pipeline_env
from support.servers import wait_until
from support.webhook_receiver import WebhookReceiver, webhook_receiver

pytestmark = pytest.mark.e2e
NOW = datetime.now(UTC).replace(microsecond=0)
HOSTILE = "<img src=x onerror=\"document.title='owned'\"> & </li>"
PRIVATE_OK = {"NEWSAGG_ALERTS_ALLOW_PRIVATE_WEBHOOKS": "true"}
DELIVERY_TIMEOUT = 90.0
"""Seconds from publishing an article to its webhook delivery on a busy 2-core machine:
the indexer's batch, the alerts worker waiting for the store, matching, sending."""


def festival_article(slug: str, title: str, hours_ago: float) -> Article:
    return Article.create(
        url=f"https://festival.example/{slug}",
        source="festival-news",
        title=title,
        text=f"{title}. The festival jury met on Friday to watch the restored classic.",
        crawled_at=NOW - timedelta(hours=hours_ago),
        published_at=NOW - timedelta(hours=hours_ago),
        date_source=DateSource.FEED,
        date_confidence=0.8,
    )


ARTICLES = [
    festival_article("opening", "Festival opens with the restored classic", 30),
    festival_article("jury", "Festival jury named", 20),
    festival_article("awards", "Festival awards on Sunday", 10),
]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    root = tmp_path_factory.mktemp("saved-page")
    store = TantivyStore(root / "data" / "index", writable=True)
    store.ensure_schema()
    assert store.upsert(ARTICLES).written == len(ARTICLES)
    store.close()
    running = Pipeline(pipeline_env(root / "data", extra=PRIVATE_OK), root, commands=("api",))
    try:
        wait_until(lambda: running.indexed() == len(ARTICLES), 30, "the API over the index")
        yield running
    finally:
        running.stop()


def saved_item(page: Page, name: str):
    return page.locator("#saved-list .saved-item").filter(
        has=page.get_by_role("link", name=name, exact=True)
    )


def save_search(page: Page, name: str, webhook: str = "", schedule: str = "instant") -> str:
    """Save the search on screen through the dialog; returns the secret it showed."""
    page.get_by_role("button", name="Save this search").click()
    dialog = page.get_by_role("dialog", name="Save this search")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Name").fill(name)
    if webhook:
        dialog.get_by_label("Webhook URL (optional)").fill(webhook)
    dialog.get_by_label("Deliver").select_option(schedule)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#saved-created")).to_contain_text("Saved")
    return page.locator("#saved-created .saved-secret").inner_text() if webhook else ""


def test_save_list_pause_resume_and_delete(page: Page, api: Pipeline):
    page.goto(f"{api.url}/?q=awards&sources=festival-news")
    expect(page.locator("#results .hit")).to_have_count(1)
    expect(page.locator("#saved-status")).to_contain_text("None yet")
    secret = save_search(page, HOSTILE, webhook="http://127.0.0.1:9/hook", schedule="daily")
    assert len(secret) == 64

    item = saved_item(page, HOSTILE)
    expect(item).to_have_count(1)
    expect(item.locator(".saved-status")).to_have_text("Active")
    expect(item).to_contain_text("daily digest; no delivery yet; 0 pending")
    expect(page.locator("#saved-status")).to_have_text("")
    assert page.title() != "owned"
    expect(page.locator("#saved-list img")).to_have_count(0)  # the name is text, not markup
    listed = api.api("/v1/saved-searches")["saved_searches"]
    assert [(s["name"], s["q"], s["sources"]) for s in listed] == [
        (HOSTILE, "awards", ["festival-news"])
    ]
    screenshot(page, "saved-searches")
    assert Axe().run(page).violations_count == 0

    item.get_by_role("button", name=f"Pause “{HOSTILE}”").click()
    expect(item.locator(".saved-status")).to_have_text("Paused")
    assert api.api("/v1/saved-searches")["saved_searches"][0]["paused"] is True
    item.get_by_role("button", name=f"Resume “{HOSTILE}”").click()
    expect(item.locator(".saved-status")).to_have_text("Active")

    item.get_by_role("button", name=f"Send test “{HOSTILE}”").click()
    expect(page.locator("#saved-status")).to_contain_text("Test delivery requested")
    assert api.api("/v1/saved-searches")["saved_searches"][0]["test_requested_at"]

    feed = item.get_by_role("link", name=f"Feed of “{HOSTILE}” (RSS)").get_attribute("href")
    assert feed is not None
    assert feed.startswith(f"{api.url}/feeds/saved/")

    page.once("dialog", lambda confirm: confirm.accept())
    item.get_by_role("button", name=f"Delete “{HOSTILE}”").click()
    expect(item).to_have_count(0)
    assert api.api("/v1/saved-searches")["saved_searches"] == []


def test_a_syntax_error_is_shown_in_the_dialog(page: Page, api: Pipeline):
    page.goto(f"{api.url}/?q=festival")
    expect(page.locator("#results .hit")).to_have_count(3)
    page.evaluate("state.q = 'festival AND ('")  # what a hand-edited URL could hold
    page.get_by_role("button", name="Save this search").click()
    page.get_by_role("dialog").get_by_label("Name").fill("broken")
    page.get_by_role("dialog").get_by_role("button", name="Save").click()
    expect(page.locator("#save-error")).to_be_visible()
    page.get_by_role("button", name="Cancel").click()
    assert api.api("/v1/saved-searches")["saved_searches"] == []


def test_results_mark_what_is_new_since_the_last_visit(page: Page, api: Pipeline):
    page.goto(f"{api.url}/?q=festival&sort=date")
    expect(page.locator("#results .hit")).to_have_count(3)
    save_search(page, "Festival")
    search_id = api.api("/v1/saved-searches")["saved_searches"][0]["id"]
    # Matched at ingest after the save, as `newsagg alerts` records it.
    alerts = open_alert_store(f"sqlite:///{api.data_dir / 'alerts.sqlite'}")
    try:
        alerts.add_matches(
            [Match(search_id=search_id, article_id=ARTICLES[2].id, matched_at=datetime.now(UTC))]
        )
    finally:
        alerts.close()
    page.reload()
    item = saved_item(page, "Festival")
    expect(item).to_contain_text("1 pending")
    item.get_by_role("link", name="Festival", exact=True).click()
    expect(page.locator("#saved-note")).to_contain_text("1 new article since your last visit")
    new = page.locator("#results .hit.is-new")
    expect(new).to_have_count(1)
    expect(new.locator(".hit-title a")).to_have_text(ARTICLES[2].title)
    expect(new.locator(".new-mark")).to_have_text("New since your last visit:")
    assert Axe().run(page).violations_count == 0
    page.reload()  # seen now: nothing new since this visit
    expect(page.locator("#saved-note")).to_contain_text("0 new articles")
    expect(page.locator("#results .hit.is-new")).to_have_count(0)


# -- the whole way: the page, the pipeline, the alerts worker, a webhook ------------------


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as running:
        yield running


@pytest.fixture(scope="module")
def demo_with_alerts(
    tmp_path_factory: pytest.TempPathFactory, manifest: dict
) -> Iterator[Pipeline]:
    """`newsagg demo` (crawler, indexer, alerts worker and API) with private webhooks
    allowed, so the alerts worker may call the receiver on 127.0.0.1."""
    root = tmp_path_factory.mktemp("saved-demo")
    env = pipeline_env(root / "data", extra={**PRIVATE_OK, "NEWSAGG_ALERTS_METRICS_PORT": "0"})
    running = Pipeline(env, root, commands=("demo",))
    with indexed_pipeline(running, manifest["article_count"]):
        yield running


def test_a_saved_search_hears_of_a_new_article_on_the_page_and_the_webhook(
    page: Page, demo_with_alerts: Pipeline, receiver: WebhookReceiver
):
    demo = demo_with_alerts
    bus = open_bus(f"sqlite:///{demo.data_dir / 'demo' / 'bus.sqlite'}")
    try:
        # the worker has read the demo's articles: only what comes after the save matches
        wait_until(
            lambda: sum(bus.group_lag(ARTICLES_TOPIC, "alerts").values()) == 0,
            DELIVERY_TIMEOUT,
            "the alerts worker to catch up with the demo",
        )
        page.goto(f"{demo.url}/?q=Milind+Soman&sort=date")
        expect(page.locator("#results .hit").first).to_be_visible()
        secret = save_search(page, "Soman", webhook=receiver.url)
        search_id = demo.api("/v1/saved-searches")["saved_searches"][0]["id"]
        receiver.secrets[search_id] = secret  # the one the page showed: the receiver checks it

        arrived = Article.create(
            url="https://marquee-daily.demo.test/articles/milind-soman-ladakh-ultra.html",
            source="marquee-daily",
            title="Milind Soman finishes the Ladakh ultra on a bicycle",
            text="Milind Soman crossed the finish line in Leh after 555 km of cycling. "
            "He thanked the marshals and the roadside crowds.",
            crawled_at=datetime.now(UTC),
            published_at=datetime.now(UTC),
            date_source=DateSource.JSON_LD,
            date_confidence=0.9,
        )
        bus.publish(ARTICLES_TOPIC, arrived.id, arrived.to_json())
        bus.flush()
    finally:
        bus.close()

    post = wait_until(
        lambda: receiver.received and receiver.received[0], DELIVERY_TIMEOUT, "the webhook"
    )
    assert post.signed
    delivered = post.json
    assert (delivered["id"], delivered["event"]) == (search_id, "matches")
    assert [(a["id"], a["url"], a["title"]) for a in delivered["articles"]] == [
        (arrived.id, arrived.url, arrived.title)
    ]
    assert post.delivery == delivered["delivery"]

    page.reload()
    item = saved_item(page, "Soman")
    expect(item).to_contain_text("last delivery")
    expect(item).to_contain_text("0 pending")
    item.get_by_role("link", name="Soman", exact=True).click()
    expect(page.locator("#saved-note")).to_contain_text("1 new article since your last visit")
    new = page.locator("#results .hit.is-new")
    expect(new).to_have_count(1)
    expect(new.locator(".hit-title a")).to_have_text(arrived.title)
    screenshot(page, "saved-search-new-article")
