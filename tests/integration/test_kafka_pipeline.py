"""The pipeline on a real Kafka broker: crawl -> Kafka -> indexer -> index -> API, DLQ, replay."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from newsagg.core.article import Article
from newsagg.core.ports import ARTICLES_TOPIC, dead_letter_topic
from support.pipeline import Pipeline, indexed_pipeline, pipeline_env
from support.servers import Service, wait_until

from newsagg.cli.demo_site import DemoSites

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pipeline(
    kafka_url: str, demo_site: DemoSites, manifest: dict, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pipeline]:
    data_dir = tmp_path_factory.mktemp("kafka-pipeline")
    env = pipeline_env(
        data_dir,
        sources=demo_site.sources_yaml(),
        bus_url=kafka_url,
        # A group of this run's own: a shared broker may hold older runs' articles.
        extra={"NEWSAGG_INDEXER_GROUP": f"indexer-{uuid.uuid4().hex[:8]}"},
    )
    with indexed_pipeline(Pipeline(env, data_dir), manifest["article_count"]) as running:
        yield running


def test_reference_query_over_kafka(pipeline: Pipeline, manifest: dict):
    status, page = pipeline.get("/v1/search", q=manifest["reference_query"])
    assert status == 200
    assert page["hits"][0]["url"].endswith(f"/{manifest['reference_slug']}.html")
    assert "<mark>" in page["hits"][0]["snippet"]
    # Exactly the demo's articles, none of the shared broker's older runs. The API's two
    # workers each reload their reader when asked after 0.25 s, so the one answering may
    # trail the one that saw the fixture's last batch: wait for the count, do not sample it.
    expected = manifest["article_count"]
    wait_until(lambda: pipeline.indexed() == expected, 10, f"exactly {expected} articles")


def test_poison_message_goes_to_the_dead_letter_topic_and_the_stream_goes_on(
    pipeline: Pipeline,
):
    poison_key = f"poison-{uuid.uuid4().hex[:8]}"
    after = Article.create(
        url=f"https://after-poison.example/{poison_key}",
        source="after-poison",
        title="Published after the poison message",
        text="The indexer keeps going after a message it cannot read.",
    )
    bus = pipeline.bus()
    bus.publish(ARTICLES_TOPIC, poison_key, b'{"title": "no id, no text"}', {"trace": "t1"})
    bus.publish(ARTICLES_TOPIC, after.id, after.to_json())
    bus.flush()
    inspect = bus.consumer(dead_letter_topic(ARTICLES_TOPIC), f"inspect-{poison_key}")

    def poison_in_dlq() -> list:
        return [m for m in inspect.poll(100, timeout=0.5) if m.key == poison_key]

    (dead,) = wait_until(poison_in_dlq, 60, "the poison message in articles.dlq")
    inspect.close()
    bus.close()
    assert dead.value == b'{"title": "no id, no text"}'
    assert "not a valid Article" in dead.headers["error"]
    assert dead.headers["source_topic"] == ARTICLES_TOPIC
    assert int(dead.headers["source_offset"]) >= 0
    assert dead.headers["trace"] == "t1"
    assert dead.headers["failed_at"]
    wait_until(lambda: pipeline.get(f"/v1/articles/{after.id}")[0] == 200, 60, "the next article")
    assert pipeline.services["index"].running


def test_status_and_replay_from_the_log(pipeline: Pipeline, manifest: dict):
    wait_until(lambda: pipeline.status()["bus"]["lag_total"] == 0, 60, "the indexer to catch up")
    bus_status = pipeline.status()["bus"]
    assert len(bus_status["lag"]) == 6  # NEWSAGG_KAFKA_PARTITIONS
    assert bus_status["dead_letters"] >= 1

    refused = pipeline.newsagg("replay", "--from-beginning")
    assert refused.returncode == 1
    assert "running member" in refused.stderr

    before = pipeline.indexed()
    pipeline.services["crawl"].stop()
    assert pipeline.services["index"].stop() == 0
    bus = pipeline.bus()
    size = bus.topic_size(ARTICLES_TOPIC)
    bus.close()
    replayed = pipeline.newsagg("replay", "--from-beginning")
    assert replayed.returncode == 0, replayed.stderr
    assert f"{size} messages" in replayed.stdout
    assert pipeline.status()["bus"]["lag_total"] == size

    pipeline.services["index"] = Service(["index"], pipeline.env, pipeline.log_dir)
    wait_until(lambda: pipeline.status()["bus"]["lag_total"] == 0, 120, "the replay to finish")
    assert pipeline.indexed() == before  # a replay re-writes, it never duplicates
    assert pipeline.services["index"].running
