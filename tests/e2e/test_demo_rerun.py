"""`newsagg demo` run twice on one data directory: the same stories, the same ids, once each."""

from __future__ import annotations

import json
import time
import urllib.parse
from pathlib import Path

from support.pipeline import pipeline_env
from support.servers import Service, free_port, get_json, wait_until

from newsagg.cli.demo_site import PORTS_FILE

SPIDER_CLOSED = "pass finished: "  # the crawler's one INFO line per source per pass


def run_demo(data_dir: Path, log_dir: Path, port: int) -> Service:
    log_dir.mkdir()
    return Service(["demo"], pipeline_env(data_dir, api_port=port), log_dir)


def indexed_ids(port: int) -> list[str]:
    query = urllib.parse.urlencode({"size": 100, "sort": "date", "facets": "", "collapse": "none"})
    status, body = get_json(f"http://127.0.0.1:{port}/v1/search?{query}")
    assert status == 200, body
    return sorted(hit["id"] for hit in body["hits"])


def api_ready(port: int, demo: Service) -> bool:
    assert demo.running, demo.log()[-3000:]
    return get_json(f"http://127.0.0.1:{port}/readyz")[0] == 200


def settled(port: int, demo: Service, outlets: int) -> list[str]:
    """The ids in the index once every outlet was crawled and the count stopped moving."""
    wait_until(lambda: demo.log().count(SPIDER_CLOSED) >= outlets, 180, "a crawl of each outlet")
    # On a rerun the crawl is all 304s and can end before the API's workers listen.
    wait_until(lambda: api_ready(port, demo), 120, "the demo's API")
    seen: list[str] = []
    for _ in range(60):
        time.sleep(2)
        now = indexed_ids(port)
        if now and now == seen:
            return now
        seen = now
    raise AssertionError(f"the index kept changing: {len(seen)} articles")


def test_a_second_demo_run_on_the_same_data_dir_does_not_double_the_index(
    tmp_path: Path, manifest: dict
):
    data_dir = tmp_path / "data"
    outlets = len(manifest["outlets"])
    port = free_port()
    first = run_demo(data_dir, tmp_path / "run-1", port)
    try:
        before = settled(port, first, outlets)
    finally:
        assert first.stop() == 0, first.log()[-3000:]
    assert len(before) == manifest["article_count"]
    sites = (data_dir / "demo" / "demo-sources.yaml").read_text()

    second = run_demo(data_dir, tmp_path / "run-2", port)
    try:
        after = settled(port, second, outlets)
    finally:
        assert second.stop() == 0, second.log()[-3000:]
    assert len(after) == manifest["article_count"]  # not twice as many
    assert after == before  # the same stories with the same ids
    assert (data_dir / "demo" / "demo-sources.yaml").read_text() == sites  # at the same addresses
    for site_port in json.loads((data_dir / "demo" / PORTS_FILE).read_text()).values():
        assert f"at http://127.0.0.1:{site_port}/" in second.log()
