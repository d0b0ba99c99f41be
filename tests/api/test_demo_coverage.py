"""The demo's two outlets cover the same events: "similar" finds the other outlet's story."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from newsagg.api.app import create_app
from newsagg.core.settings import Settings
from support.demo_corpus import demo_articles, demo_store

# Each Reel News story and the Marquee Daily story about the same event.
SAME_EVENT = {
    "diwali-box-office-week-one-dhamaal-junction-closes-gap": (
        "diwali-box-office-clash-kesar-mahal-dhamaal-junction"
    ),
    "the-last-orchard-review-hugh-brennan": "festival-premiere-the-last-orchard-reactions",
    "dance-ka-dangal-finale-ratings-rehan-ali": "dance-ka-dangal-season-finale-winner",
    "rosa-delgado-declan-marsh-charity-ride-interview": "declan-marsh-charity-coast-ride",
    "dhuaan-finale-explained-season-two": "dhuaan-crime-series-review",
    "khaki-diaries-who-replaces-kabir-anand": "kabir-anand-exits-police-drama-fans-react",
    "sur-sangam-awards-ritika-bose-best-new-artist": "sur-sangam-music-awards-winners",
    "orbital-drift-worldwide-box-office-india": "orbital-drift-box-office-record",
    "aditi-varma-raat-rani-tour-london-sells-out": "aditi-varma-world-tour-announcement",
    "aaji-chi-khidki-opens-mumbai-autumn-film-festival": "mumbai-autumn-film-festival-lineup",
}


def slug(url: str) -> str:
    return url.rsplit("/", 1)[-1].removesuffix(".html")


@pytest.fixture(scope="module")
def reel_ids() -> dict[str, str]:
    return {slug(a.url): a.id for a in demo_articles() if a.source == "reel-news"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    store = demo_store(tmp_path_factory.mktemp("coverage") / "index")
    try:
        with TestClient(create_app(Settings(), store=store)) as client:
            yield client
    finally:
        store.close()


def test_both_outlets_are_searchable_under_their_own_names(client: TestClient):
    page = client.get("/v1/search", params={"q": "box office", "facets": "source"}).json()
    assert {f["value"] for f in page["facets"]["source"]} == {"marquee-daily", "reel-news"}


@pytest.mark.parametrize(("reel", "marquee"), SAME_EVENT.items())
def test_similar_coverage_finds_the_other_outlets_story_first(
    client: TestClient, reel_ids: dict[str, str], reel: str, marquee: str
):
    similar = client.get(f"/v1/articles/{reel_ids[reel]}/similar", params={"size": 3}).json()
    top = similar["hits"][0]
    assert (top["source"], slug(top["url"])) == ("marquee-daily", marquee)
