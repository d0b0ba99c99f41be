"""A spike on the search page's timeline (issue 19), in headless Chromium: `newsagg api` over
an index with a burst on one query and steady coverage of another (support.spike_corpus)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from axe_playwright_python.sync_playwright import Axe
from chromium_session import screenshot
from newsagg.core.adapters.tantivy_store import TantivyStore
from playwright.sync_api import Page, expect
from support.pipeline import Pipeline, pipeline_env
from support.servers import wait_until
from support.spike_corpus import BURST, SPIKING, STEADY, spike_articles

pytestmark = pytest.mark.e2e
DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    root = tmp_path_factory.mktemp("timeline-spike-page")
    articles = spike_articles(datetime.now(UTC))
    store = TantivyStore(root / "data" / "index", writable=True)
    store.ensure_schema()
    assert store.upsert(articles).written == len(articles)
    store.close()
    running = Pipeline(pipeline_env(root / "data"), root, commands=("api",))
    try:
        wait_until(lambda: running.indexed() == len(articles), 30, "the API over the index")
        yield running
    finally:
        running.stop()


def test_a_spike_is_captioned_and_its_last_24_hours_marked(page: Page, api: Pipeline):
    page.goto(f"{api.url}/?q={SPIKING}")
    note = page.locator("#timeline-spike")
    expect(note).to_be_visible()
    expect(note.locator("strong")).to_have_text(
        f"Spike: {BURST} articles in the last 24 hours against 2.0 a day over the 14 days "
        "before (a spike from 7)."
    )
    expect(note).to_contain_text("Poisson upper bound")

    # The day bars that hold part of the last 24 hours, as the API reports where they start.
    spike = api.api("/v1/timeline", q=SPIKING, spike="true")["spike"]
    days = api.api("/v1/timeline", q=SPIKING)["buckets"]
    recent_start = datetime.fromisoformat(spike["recent_start"])
    expected = [
        b["start"][:10]
        for b in days
        if datetime.fromisoformat(b["start"]).timestamp() * 1000 + DAY_MS
        > recent_start.timestamp() * 1000
    ]
    assert 1 <= len(expected) <= 2
    marked = page.locator("#timeline .bar.spike")
    expect(marked).to_have_count(len(expected))
    assert [marked.nth(i).get_attribute("data-start") for i in range(len(expected))] == expected
    for i in range(len(expected)):
        assert (
            marked.nth(i)
            .get_attribute("aria-label")
            .endswith(", includes the last 24 hours: a spike")
        )
    assert page.locator("#timeline .bar:not(.spike)").count() > 10  # the baseline's days
    screenshot(page, "timeline-spike")
    assert Axe().run(page).violations_count == 0


def test_steady_coverage_shows_no_spike(page: Page, api: Pipeline):
    """Searched after the spiking query on the same page: its caption and marks go."""
    page.goto(f"{api.url}/?q={SPIKING}")
    expect(page.locator("#timeline-spike")).to_be_visible()
    page.get_by_label("Search articles").fill(STEADY)
    page.get_by_label("Search articles").press("Enter")
    expect(page.locator("#results .hit").first).to_contain_text(STEADY)
    expect(page.locator("#timeline-spike")).to_be_hidden()
    expect(page.locator("#timeline-spike")).to_have_text("")
    expect(page.locator("#timeline .bar.spike")).to_have_count(0)
    expect(page.locator("#timeline .bar")).not_to_have_count(0)
