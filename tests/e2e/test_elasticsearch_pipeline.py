"""The pipeline on Elasticsearch: crawler, indexer and API processes with NEWSAGG_STORE_URL
pointing at a real node, which is crashed and restarted while the indexer works."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.launcher import start_elasticsearch
from support.pipeline import Pipeline, pipeline_env
from support.servers import Service, wait_until

from newsagg.cli.demo_site import DemoSites

pytestmark = pytest.mark.e2e


@pytest.fixture
def node(elasticsearch_node: Any | None) -> Iterator[Any]:
    """A node this test may crash: the session's own, or a private one when the session
    uses someone else's (NEWSAGG_TEST_ES_URL)."""
    if elasticsearch_node is not None:
        yield elasticsearch_node
        if not elasticsearch_node.is_running():
            elasticsearch_node.start()
        return
    private = start_elasticsearch()
    yield private
    private.close()


def test_indexing_survives_a_node_crash_and_the_reference_story_ranks_first(
    tmp_path: Path, demo_site: DemoSites, manifest: dict, node: Any
):
    env = pipeline_env(
        tmp_path / "data",
        sources=demo_site.sources_yaml(),
        store_url=node.url,
        extra={
            "NEWSAGG_STORE_INDEX": f"test-e2e-{uuid.uuid4().hex[:8]}",
            "NEWSAGG_INDEXER_BATCH_SIZE": "3",  # small bulks: the crash lands mid-stream
            "NEWSAGG_INDEXER_MAX_RETRY_DELAY": "2",
        },
    )
    # The crawler starts once the API answers: started together, the crawl and the
    # indexing could finish before the API was up to count them, leaving the indexer
    # idle when the node dies, with no store call to back off from (CI once: no retry
    # line in 30 s). The crawl delay stretches the stream over seconds.
    api = Pipeline(env, tmp_path, commands=("index", "api"))
    indexer = api.services["index"]
    expected = manifest["article_count"]
    try:
        wait_until(lambda: api.get("/readyz")[0] == 200, 120, "the API ready")
        api.services["crawl"] = Service(["crawl"], {**env, "NEWSAGG_CRAWL_DELAY": "0.1"}, tmp_path)
        first = wait_until(lambda: (n := api.indexed()) >= 3 and n, 120, "the first articles")
        assert first < expected, "all indexed before the crash: nothing left to back off from"
        seen = len(indexer.log())
        node.kill()
        status, problem = api.get("/v1/search", q="Milind Soman cycling")
        assert status == 503
        assert problem["title"] == "Search store unavailable"
        assert api.get("/readyz")[0] == 503
        # Whichever store call of the batch meets the dead node first (the read of the
        # stored versions, the enrichment's candidate queries or the write) must back off;
        # the embedded bus stays up, so a retry line here is the store's.
        try:
            wait_until(
                lambda: re.search(r"cannot .+; retrying in", indexer.log()[seen:]),
                30,
                "the indexer to back off",
            )
        except AssertionError as error:
            raise AssertionError(f"{error}\n{api.logs()}") from None
        node.start()
        wait_until(lambda: api.indexed() >= expected, 180, f"{expected} articles indexed")
        assert indexer.running
        status, page = api.get("/v1/search", size=100, sort="date", collapse="none")
        assert status == 200
        assert page["total"] == expected
        urls = [hit["url"].rsplit("/", 1)[-1] for hit in page["hits"]]
        assert sorted(urls) == sorted(f"{a['slug']}.html" for a in manifest["articles"])
        by_source = {f["value"]: f["count"] for f in page["facets"]["source"]}
        assert by_source == {name: o["article_count"] for name, o in manifest["outlets"].items()}

        status, page = api.get("/v1/search", q=manifest["reference_query"])
        assert status == 200
        top = page["hits"][0]
        assert top["url"].endswith(f"/{manifest['reference_slug']}.html")
        assert "<mark>" in top["snippet"]
        assert {f["value"] for f in page["facets"]["source"]} == {"marquee-daily", "reel-news"}
        status, page = api.get("/v1/search", q=f'"{manifest["reference_phrase"]}"')
        assert page["total"] == 1
        assert page["hits"][0]["url"].endswith(f"/{manifest['reference_slug']}.html")
    finally:
        api.stop()
