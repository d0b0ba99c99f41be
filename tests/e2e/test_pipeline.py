"""The whole pipeline as a user runs it: crawler, indexer and API as separate processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from newsagg.core.adapters.sqlite_bus import SqliteLogBus
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.ports import ARTICLES_TOPIC, dead_letter_topic
from support.pipeline import Pipeline, indexed_pipeline, pipeline_env
from support.servers import Service, wait_until

from newsagg.cli.demo_site import DemoSite, DemoSites

pytestmark = pytest.mark.e2e
# The reference story as given in shared/data/seed (copied so a clone is self-contained).
SEED_TEXT = (Path(__file__).parents[1] / "data" / "milind-soman-roadside-romance.txt").read_text(
    encoding="utf-8"
)
COPIES = 4
"""Each story this many times on the killed indexer's bus, one a batch: a long stream to
land the kill in."""
CHROME = [
    "Advertisement",
    "cookies",
    "Subscribe",
    "Related stories",
    "Trending",
    "newsletter",
    "Skip to content",
    "Marquee Daily covers",
    "All rights reserved",
    "Breaking",
]


@pytest.fixture(scope="module")
def pipeline(
    tmp_path_factory: pytest.TempPathFactory,
    demo_site: DemoSites,
    bad_site: DemoSite,
    manifest: dict,
) -> Iterator[Pipeline]:
    """One pipeline for the module: its tests read it, and the poison message test leaves
    the index as it was."""
    sources = demo_site.sources_yaml() + (
        "  - name: broken-feed\n"
        f"    feeds: [{demo_site.url}/feed-broken.xml]\n"
        "    allow_private: true\n"
        "  - name: bad-pages\n"
        f"    feeds: [{bad_site.url}/rss.xml]\n"
        "    allow_private: true\n"
    )
    root = tmp_path_factory.mktemp("e2e-pipeline")
    running = Pipeline(pipeline_env(root / "data", sources=sources), root)
    with indexed_pipeline(running, manifest["article_count"]):
        yield running


def test_reference_query_finds_the_reference_story_first(pipeline: Pipeline, manifest: dict):
    status, page = pipeline.get("/v1/search", q="Milind Soman cycling")
    assert status == 200
    top = page["hits"][0]
    assert top["url"].endswith(f"/{manifest['reference_slug']}.html")
    assert "<mark>" in top["snippet"]
    assert page["total"] >= 2  # other stories mention Milind Soman and cycling too
    # Reel News's fitness-trends piece names him and indoor cycling, further down
    assert {f["value"] for f in page["facets"]["source"]} == {"marquee-daily", "reel-news"}


def test_phrase_finds_the_reference_story(pipeline: Pipeline, manifest: dict):
    status, page = pipeline.get("/v1/search", q='"roadside romance"')
    assert status == 200
    assert page["total"] == 1
    assert page["hits"][0]["url"].endswith(f"/{manifest['reference_slug']}.html")


def test_article_text_is_the_story_without_page_chrome(pipeline: Pipeline):
    _, page = pipeline.get("/v1/search", q='"roadside romance"')
    status, article = pipeline.get(f"/v1/articles/{page['hits'][0]['id']}")
    assert status == 200
    for paragraph in filter(None, (p.strip() for p in SEED_TEXT.splitlines())):
        assert paragraph in article["text"]
    for chrome in CHROME:
        assert chrome not in article["text"], chrome
    assert article["authors"]
    assert article["published_at"]
    assert article["title"].startswith("Ankita Konwar cheers on Milind Soman")


def test_each_demo_article_is_indexed_once(pipeline: Pipeline, manifest: dict):
    status, page = pipeline.get("/v1/search", size=100, sort="date", collapse="none")
    assert status == 200
    assert page["total"] == manifest["article_count"]
    urls = {hit["url"].rsplit("/", 1)[-1] for hit in page["hits"]}
    assert urls == {f"{a['slug']}.html" for a in manifest["articles"]}
    by_source = {f["value"]: f["count"] for f in page["facets"]["source"]}
    assert by_source == {name: o["article_count"] for name, o in manifest["outlets"].items()}


@pytest.mark.parametrize(
    ("query", "status", "needle"),
    [
        ('"roadside romance', 400, "unbalanced quote"),
        ("x" * 10_000, 400, "too long"),
        ("(cycling", 400, "unbalanced parenthesis"),
    ],
)
def test_bad_queries_get_a_clear_4xx(pipeline: Pipeline, query: str, status: int, needle: str):
    code, body = pipeline.get("/v1/search", q=query)
    assert code == status
    assert needle in body["detail"]


def test_bad_parameters_get_422(pipeline: Pipeline):
    code, body = pipeline.get("/v1/search", q="cycling", size=1000)
    assert code == 422
    assert "size" in body["detail"]
    code, body = pipeline.get("/v1/search", q="cycling", **{"from": "last tuesday"})
    assert code == 422
    assert "from" in body["detail"]
    code, _ = pipeline.get("/v1/articles/not-an-id")
    assert code == 404


def test_bad_feeds_and_pages_do_not_stop_the_crawler(pipeline: Pipeline):
    crawler = pipeline.services["crawl"]
    wait_until(lambda: "feed-broken.xml" in crawler.log(), 30, "the broken feed to be reported")
    log = crawler.log()
    assert crawler.running
    assert "not well-formed XML" in log
    assert "empty page" in log
    assert "not-html.html" in log
    assert "does-not-exist.html" in log


def test_a_message_that_is_not_an_article_goes_to_the_dead_letter_topic(pipeline: Pipeline):
    bus = pipeline.bus()
    before = pipeline.indexed()
    bus.publish(ARTICLES_TOPIC, "poison", b'{"title": "no id, no text"}')
    dlq = bus.consumer(dead_letter_topic(ARTICLES_TOPIC), "e2e-inspect")
    dead = wait_until(lambda: dlq.poll(10, timeout=0.5), 30, "the poison message in the DLQ")
    assert dead[0].key == "poison"
    assert "not a valid Article" in dead[0].headers["error"]
    dlq.close()
    bus.close()
    assert pipeline.services["index"].running
    assert pipeline.indexed() == before
    status, page = pipeline.get("/v1/search", q="Milind Soman cycling")
    assert status == 200
    assert page["hits"]


def test_indexer_killed_mid_batch_leaves_each_article_once(
    tmp_path: Path, pipeline: Pipeline, manifest: dict
):
    """kill -9 during indexing, restart: every demo article is in the index exactly once.

    The stories are the ones the module's pipeline crawled (no second crawl of the demo),
    copied onto a bus of this test's own for an indexer of its own."""
    indexed = {hit["id"] for hit in pipeline.api("/v1/search", size=100, collapse="none")["hits"]}
    source = pipeline.bus()
    crawled = source.consumer(ARTICLES_TOPIC, "e2e-copy")
    messages = []
    while batch := crawled.poll(1000, timeout=0.5):  # all of them: they are all indexed
        messages.extend(batch)
    originals = [m for m in messages if m.key in indexed]  # not the poison test's message
    crawled.close()
    source.close()
    assert len({m.key for m in originals}) == manifest["article_count"]
    data_dir = tmp_path / "data"
    env = pipeline_env(data_dir, extra={"NEWSAGG_INDEXER_BATCH_SIZE": "1"})
    bus = SqliteLogBus(data_dir / "bus.sqlite")
    for _ in range(COPIES):  # the same stories again, as re-deliveries and re-crawls bring them
        for message in originals:
            bus.publish(ARTICLES_TOPIC, message.key, message.value)
    bus.close()
    total = len(originals) * COPIES
    reader = TantivyStore(data_dir / "index", writable=False, reload_interval=0)
    first = Service(["index"], env, tmp_path)
    wait_until(lambda: "indexed 1 articles" in first.log(), 60, "the indexer to start indexing")
    first.kill9()
    lag = SqliteLogBus(data_dir / "bus.sqlite").consumer(ARTICLES_TOPIC, "indexer")
    remaining = sum(lag.lag().values())
    assert 0 < remaining < total, "the kill did not land mid-stream"
    second = Service(["index"], env, tmp_path)
    wait_until(lambda: sum(lag.lag().values()) == 0, 300, "the restarted indexer to catch up")
    second.stop()
    lag.close()
    assert reader.count() == manifest["article_count"]
    for message in originals:
        assert reader.get(message.key) is not None
