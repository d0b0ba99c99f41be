"""The cluster mode's configuration, checked without starting a JVM: what `make cluster`
writes for 3 brokers and 2 Elasticsearch nodes, and what the services then create.
(`make cluster-test` runs the same on real servers, through crashes.)"""

from __future__ import annotations

from pathlib import Path

from newsagg.core.adapters import es_schema
from newsagg.core.adapters.elasticsearch_store import ElasticsearchStore
from newsagg.core.adapters.kafka_bus import min_insync_replicas
from newsagg.core.settings import Settings
from support.launcher import local_servers


def test_three_brokers_form_one_quorum_with_replication_three(tmp_path: Path) -> None:
    cluster = local_servers().LocalKafkaCluster(3, data_dir=tmp_path)
    props = [node._properties() for node in cluster.nodes]
    assert [p["node.id"] for p in props] == ["1", "2", "3"]
    voters = {p["controller.quorum.voters"] for p in props}
    assert len(voters) == 1  # every node knows the same three voters
    (voter_list,) = voters
    assert [v.split("@")[0] for v in voter_list.split(",")] == ["1", "2", "3"]
    assert len({node.cluster_id for node in cluster.nodes}) == 1
    ports = [node.port for node in cluster.nodes] + [n.controller_port for n in cluster.nodes]
    assert len(set(ports)) == 6
    for p in props:
        assert p["process.roles"] == "broker,controller"
        assert p["default.replication.factor"] == "3"
        assert p["min.insync.replicas"] == "2"
        assert p["offsets.topic.replication.factor"] == "3"
        assert p["transaction.state.log.min.isr"] == "2"
        assert p["unclean.leader.election.enable"] == "false"
        assert p["listeners"].startswith("PLAINTEXT://127.0.0.1:")
    assert {Path(p["log.dirs"]).parent.name for p in props} == {"kafka-1", "kafka-2", "kafka-3"}
    assert cluster.env == {
        "NEWSAGG_BUS_URL": "kafka://" + ",".join(f"127.0.0.1:{n.port}" for n in cluster.nodes),
        "NEWSAGG_KAFKA_REPLICATION": "3",
    }


def test_one_broker_alone_keeps_its_single_node_defaults(tmp_path: Path) -> None:
    """The cluster mode changes nothing for `make kafka` and the suite's broker."""
    kafka = local_servers().LocalKafka(5, controller_port=6, data_dir=tmp_path)
    props = kafka._properties()
    assert props["controller.quorum.voters"] == "1@127.0.0.1:6"
    assert props["min.insync.replicas"] == "1"
    assert props["default.replication.factor"] == "1"


def test_two_elasticsearch_nodes_discover_each_other(tmp_path: Path) -> None:
    cluster = local_servers().LocalElasticsearchCluster(2, data_dir=tmp_path)
    settings = []
    for node in cluster.nodes:
        node._work_dir = tmp_path / node.settings["node.name"]
        settings.append(node._settings())
    transports = {f"127.0.0.1:{node.transport_port}" for node in cluster.nodes}
    for s in settings:
        assert "discovery.type" not in s  # single-node would refuse to form a cluster
        assert set(s["discovery.seed_hosts"].split(",")) == transports
        assert s["cluster.initial_master_nodes"] == "es-1,es-2"
        assert s["cluster.name"] == "newsagg-local-cluster"
        assert s["network.host"] == "127.0.0.1"
    assert [s["node.name"] for s in settings] == ["es-1", "es-2"]
    assert cluster.env["NEWSAGG_STORE_URL"] == ",".join(node.url for node in cluster.nodes)
    assert cluster.env["NEWSAGG_STORE_REPLICAS"] == "1"
    assert cluster.env["NEWSAGG_STORE_SHARDS"] == "2"


def test_a_single_node_is_still_single_node(tmp_path: Path) -> None:
    node = local_servers().LocalElasticsearch(5, transport_port=6, data_dir=tmp_path)
    assert node._settings()["discovery.type"] == "single-node"


def test_the_services_take_the_cluster_env() -> None:
    """Topics get min.insync.replicas 2 at replication 3; indices the shards and replicas
    asked for; the store client gets every node (a dead one is skipped)."""
    assert [min_insync_replicas(r) for r in (1, 2, 3, 5)] == [1, 1, 2, 2]
    body = es_schema.components(shards=2, replicas=1)["index-settings"]["settings"]
    assert (body["number_of_shards"], body["number_of_replicas"]) == (2, 1)
    defaults = es_schema.components()["index-settings"]["settings"]
    assert (defaults["number_of_shards"], defaults["number_of_replicas"]) == (1, 1)
    settings = Settings(
        store_url="http://127.0.0.1:1,http://127.0.0.1:2", store_shards=2, store_replicas=1
    )
    store = ElasticsearchStore.from_url(settings.store_url, settings)
    try:
        nodes = store.client.transport.node_pool.all()
        assert sorted(node.config.port for node in nodes) == [1, 2]
        assert (store.shards, store.replicas) == (2, 1)
    finally:
        store.close()


def test_a_stall_is_read_from_the_count_samples() -> None:
    """The stall of a fault: from the kill to the first count above the count at the kill."""
    from reliability.cluster import Watch

    watch = Watch([], "articles", dict)
    watch.samples = [(0.0, 5), (1.0, 8), (2.0, 8), (3.0, 8), (6.5, 9), (7.0, 12)]
    assert watch.first_rise_after(1.5) == 5.0  # 8 at the kill, 9 at 6.5 s
    assert watch.first_rise_after(7.5) is None  # nothing indexed after it
    assert watch.first_rise_after(-1.0) == 1.0  # before any sample the level is 0


def test_the_demo_outlets_expected_urls_are_the_manifests_stories(manifest: dict) -> None:
    from newsagg.cli.demo_site import DemoSites
    from reliability.cluster import demo_expected

    sites = DemoSites()
    try:
        urls = demo_expected(sites)
    finally:
        sites.stop()
    assert sorted(url.split("/", 3)[3] for url in urls) == sorted(
        a["path"] for a in manifest["articles"]
    )
    assert all("/articles/" in url and url.endswith(".html") for url in urls)
