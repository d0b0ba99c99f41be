"""docker-compose.yml, deploy/compose/local.yml and the Dockerfiles, checked without a
Docker engine (the short form of `make compose-test`, which runs them for real): they parse,
every image is pinned, every service has a healthcheck and waits for healthy dependencies,
images run as a non-root user, every NEWSAGG_* setting reaches the newsagg containers and
.env.example lists every variable the compose files read."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import dockerfile
import pytest
import yaml
from newsagg.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
LOCAL = ROOT / "deploy/compose/local.yml"
SERVICE_DOCKERFILE = ROOT / "deploy/docker/Dockerfile"
LOCAL_DOCKERFILES = sorted((ROOT / "deploy/compose").glob("*/Dockerfile"))
ENV_EXAMPLE = ROOT / ".env.example"
NEWSAGG_SERVICES = ("crawler", "indexer-1", "indexer-2", "api", "alerts")
SETTINGS = {f"NEWSAGG_{name.upper()}" for name in Settings.model_fields}
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-[^}]*)?\}")


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{path} is not a YAML mapping"
    return data


def merged() -> dict[str, dict[str, Any]]:
    """The services as docker-compose merges local.yml over docker-compose.yml (mappings by
    key; the override's scalars and lists win), enough to check what runs on this machine."""
    services = {name: dict(spec) for name, spec in load(COMPOSE)["services"].items()}
    for name, spec in load(LOCAL)["services"].items():
        base = services.setdefault(name, {})
        for key, value in spec.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                base[key] = {**base[key], **value}
            else:
                base[key] = value
    return services


def environment(spec: dict[str, Any]) -> dict[str, Any]:
    env = spec.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return dict(env)


# ------------------------------------------------------------------- pinned images


def unpinned(image: str) -> str | None:
    """Why `image` is not pinned to a version, or None when it is."""
    name, _, digest = image.partition("@")
    if digest:
        return None if digest.startswith("sha256:") else f"{image}: bad digest"
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"{image}: no tag"
    tag = last.split(":", 1)[1]
    if tag in {"latest", "stable", "main", "edge"} or not re.search(r"\d", tag):
        return f"{image}: tag {tag!r} is not a version"
    return None


@pytest.mark.parametrize("path", [COMPOSE, LOCAL], ids=lambda p: p.name)
def test_every_compose_image_is_pinned(path: Path) -> None:
    images = [spec["image"] for spec in load(path)["services"].values() if "image" in spec]
    assert images
    assert [reason for image in images if (reason := unpinned(image))] == []


def test_the_pin_check_can_fail() -> None:
    assert unpinned("apache/kafka") == "apache/kafka: no tag"
    assert unpinned("grafana/grafana:latest") is not None
    assert unpinned("localhost:5000/x") == "localhost:5000/x: no tag"
    assert unpinned("prom/prometheus:v3.5.0") is None


def test_users_get_the_official_server_images_of_the_tested_versions() -> None:
    services = load(COMPOSE)["services"]
    kafka = (ROOT / "deploy/local/kafka/pom.xml").read_text()
    es = (ROOT / "deploy/local/elasticsearch/pom.xml").read_text()
    kafka_version = re.search(r"<kafka.version>([^<]+)<", kafka).group(1)  # type: ignore[union-attr]
    es_version = re.search(r"<es.version>([^<]+)<", es).group(1)  # type: ignore[union-attr]
    assert services["kafka"]["image"] == f"apache/kafka:{kafka_version}"
    assert services["elasticsearch"]["image"] == (
        f"docker.elastic.co/elasticsearch/elasticsearch:{es_version}"
    )
    local = load(LOCAL)["services"]
    assert local["kafka"]["image"] == f"newsagg-local/kafka:{kafka_version}"
    assert local["elasticsearch"]["image"] == f"newsagg-local/elasticsearch:{es_version}"


# ------------------------------------------------------------------- health and order


def stage_instructions(path: Path, target: str | None = None) -> list[dockerfile.Command]:
    """The instructions of one stage (`FROM ... AS target`), or of the last stage."""
    stages: list[list[dockerfile.Command]] = []
    names: list[str] = []
    for command in dockerfile.parse_file(str(path)):
        if command.cmd == "FROM":
            stages.append([])
            value = command.value
            names.append(value[2].lower() if len(value) == 3 and value[1].upper() == "AS" else "")
        if stages:
            stages[-1].append(command)
    if target is None:
        return stages[-1]
    return stages[names.index(target)]


def image_healthcheck(spec: dict[str, Any]) -> bool:
    """Whether the image the service builds declares a HEALTHCHECK."""
    build = spec.get("build")
    if not build:
        return False
    path = ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
    return any(c.cmd == "HEALTHCHECK" for c in stage_instructions(path, build.get("target")))


@pytest.mark.parametrize("services", ["docker-compose.yml", "with local.yml"])
def test_every_service_has_a_healthcheck(services: str) -> None:
    specs = load(COMPOSE)["services"] if services == "docker-compose.yml" else merged()
    missing = [
        name
        for name, spec in specs.items()
        if not (spec.get("healthcheck") or {}).get("test") and not image_healthcheck(spec)
    ]
    assert missing == []


def test_dependencies_are_awaited_healthy() -> None:
    services = load(COMPOSE)["services"]
    for name, spec in services.items():
        for dependency, condition in (spec.get("depends_on") or {}).items():
            assert condition == {"condition": "service_healthy"}, (name, dependency)
            assert dependency in services, (name, dependency)
    assert set(services["indexer-1"]["depends_on"]) == {"kafka", "elasticsearch"}
    assert set(services["crawler"]["depends_on"]) == {"kafka"}
    assert set(services["alerts"]["depends_on"]) == {"kafka", "elasticsearch"}


def test_two_indexers_share_one_consumer_group() -> None:
    services = load(COMPOSE)["services"]
    one, two = services["indexer-1"], services["indexer-2"]
    assert one["image"] == two["image"]
    assert one["build"]["target"] == "indexer"
    assert environment(one).get("NEWSAGG_INDEXER_GROUP") == environment(two).get(
        "NEWSAGG_INDEXER_GROUP"
    )


def test_the_alerts_worker_runs_its_own_image_in_its_own_group() -> None:
    """`newsagg alerts` from the alerts target, in a consumer group apart from the indexers'
    (both read every article), on the indexers' bus and store."""
    services = load(COMPOSE)["services"]
    alerts, indexer = services["alerts"], services["indexer-1"]
    assert alerts["build"]["target"] == "alerts"
    assert alerts["image"].startswith("newsagg/alerts:")
    env, theirs = environment(alerts), environment(indexer)
    assert env["NEWSAGG_BUS_URL"] == theirs["NEWSAGG_BUS_URL"]
    assert env["NEWSAGG_STORE_URL"] == theirs["NEWSAGG_STORE_URL"]
    group = env.get("NEWSAGG_ALERTS_GROUP") or Settings.model_fields["alerts_group"].default
    indexers = env.get("NEWSAGG_INDEXER_GROUP") or Settings.model_fields["indexer_group"].default
    assert group != indexers
    assert env["NEWSAGG_ALERTS_METRICS_PORT"] == "${NEWSAGG_ALERTS_METRICS_PORT:-9105}"


def test_state_lives_in_named_volumes() -> None:
    config = load(COMPOSE)
    named = set(config["volumes"])
    for service in ("kafka", "elasticsearch", "crawler", "prometheus", "grafana"):
        volumes = config["services"][service]["volumes"]
        assert any(v.split(":")[0] in named for v in volumes), service


def test_mounted_repository_files_exist() -> None:
    for spec in load(COMPOSE)["services"].values():
        for volume in spec.get("volumes") or []:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source


# ------------------------------------------------------------------- Dockerfiles


@pytest.mark.parametrize("target", ["crawler", "indexer", "api", "alerts"])
def test_service_images_are_slim_non_root_and_healthchecked(target: str) -> None:
    stage = stage_instructions(SERVICE_DOCKERFILE, target)
    runtime = stage_instructions(SERVICE_DOCKERFILE, "runtime")
    commands = [c.cmd for c in stage + runtime]
    assert "HEALTHCHECK" in commands
    assert "CMD" in commands
    (user,) = [c.value[0] for c in runtime if c.cmd == "USER"]
    assert user.split(":")[0] not in {"0", "root"}
    # The runtime copies only the built venv: no uv, pip cache or source tree.
    copies = [c for c in stage if c.cmd == "COPY"]
    assert [c.value for c in copies] == [("/opt/newsagg", "/opt/newsagg")]
    assert [c.flags for c in copies] == [(f"--from={target}-venv",)]
    assert [c.value[-1] for c in stage if c.cmd == "CMD"] == [
        {"crawler": "crawl", "indexer": "index", "api": "api", "alerts": "alerts"}[target]
    ]


def test_runtime_and_build_share_the_pinned_base_image_argument() -> None:
    commands = dockerfile.parse_file(str(SERVICE_DOCKERFILE))
    (base,) = [c.value[0] for c in commands if c.cmd == "ARG" and c.value[0].startswith("BASE_")]
    assert unpinned(base.split("=", 1)[1]) is None
    assert base.startswith("BASE_IMAGE=python:3.11.")
    bases = [c.value[0] for c in commands if c.cmd == "FROM"]
    # Two stages start from the base (build, runtime); the others from one of those, or
    # from scratch (the sources stage, only copied from).
    assert bases.count("${BASE_IMAGE}") == 2
    assert set(bases) - {"${BASE_IMAGE}"} == {"build", "runtime", "scratch"}


@pytest.mark.parametrize("path", LOCAL_DOCKERFILES, ids=lambda p: p.parent.name)
def test_local_images_run_unprivileged_with_a_healthcheck(path: Path) -> None:
    commands = dockerfile.parse_file(str(path))
    cmds = [c.cmd for c in commands]
    if path.parent.name == "jvm":  # a base for the Kafka and Elasticsearch images only
        assert cmds.count("FROM") == 1
        return
    assert "HEALTHCHECK" in cmds
    users = [c.value[0] for c in commands if c.cmd == "USER"]
    assert users
    assert users[-1].split(":")[0] not in {"0", "root"}


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".cache", "data"} <= ignored


# ------------------------------------------------------------------- settings


@pytest.mark.parametrize("service", NEWSAGG_SERVICES)
def test_every_setting_reaches_the_newsagg_containers(service: str) -> None:
    """Each NEWSAGG_* setting of Settings is set (with a default), or passed
    through from the environment (a key without a value) in the compose file."""
    env = environment(load(COMPOSE)["services"][service])
    assert SETTINGS - set(env) == set()
    assert {k for k in env if k.startswith("NEWSAGG_")} - SETTINGS == set()


def compose_variables() -> set[str]:
    """Every variable the two compose files interpolate, and every passed-through key."""
    names = set(INTERPOLATION.findall(COMPOSE.read_text() + LOCAL.read_text()))
    for spec in load(COMPOSE)["services"].values():
        names |= {k for k, v in environment(spec).items() if v is None}
    return names


def test_env_example_lists_every_variable() -> None:
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.M))
    assert SETTINGS - listed == set()
    assert compose_variables() - listed == set()
    assert listed - SETTINGS - compose_variables() == set()


def test_env_example_defaults_match_settings() -> None:
    """A commented `# NEWSAGG_X=value` line shows the value the containers get unset."""
    compose_env = environment(load(COMPOSE)["services"]["api"])
    for name, value in re.findall(
        r"^#\s*(NEWSAGG_[A-Z0-9_]+)=(.*)$", ENV_EXAMPLE.read_text(), re.M
    ):
        if compose_env.get(name) is not None:
            default = INTERPOLATION.sub(
                lambda m: m.group(0).split(":-", 1)[1][:-1] if ":-" in m.group(0) else "",
                str(compose_env[name]),
            )
            assert value == default, name
            continue
        field = Settings.model_fields[name.removeprefix("NEWSAGG_").lower()]
        default = field.get_default()
        shown = default.get_secret_value() if hasattr(default, "get_secret_value") else default
        assert value == ("" if shown is None else str(shown)), name


# ------------------------------------------------------------------- this machine


def test_local_override_uses_host_networking_on_loopback_only() -> None:
    services = merged()
    running = {n: s for n, s in services.items() if not s.get("profiles")}
    assert {s.get("network_mode") for s in running.values()} == {"host"}
    assert "networks" not in load(LOCAL)
    addresses = set(re.findall(r"\b\d{1,3}(?:\.\d{1,3}){3}\b", LOCAL.read_text()))
    assert addresses == {"127.0.0.1"}
    assert set(services) - set(running) == {"grafana"}


def test_local_builds_use_the_bootstrapped_base() -> None:
    for name in NEWSAGG_SERVICES:
        args = merged()[name]["build"]["args"]
        assert args["BASE_IMAGE"] == "newsagg-local/base:bookworm"


def test_prometheus_jobs_are_the_rules_jobs() -> None:
    """The compose Prometheus scrapes the jobs deploy/prometheus/ names (its alert rules and
    the dashboard select by job) and loads those rules."""
    ours = load(ROOT / "deploy/compose/prometheus/prometheus.yml")
    theirs = load(ROOT / "deploy/prometheus/prometheus.yml")
    jobs = {job["job_name"] for job in ours["scrape_configs"]}
    assert jobs == {job["job_name"] for job in theirs["scrape_configs"]}
    for targets in ("targets", "targets-local"):
        files = {p.stem for p in (ROOT / "deploy/compose/prometheus" / targets).glob("*.yml")}
        assert files == jobs, targets
    assert ours["rule_files"] == ["/etc/prometheus/rules/*.rules.yml"]
    assert list((ROOT / "deploy/prometheus/rules").glob("*.rules.yml"))


# ------------------------------------------------------------------- helper scripts


def by_path(relative: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(Path(relative).stem, ROOT / relative)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_healthcheck_probes_the_service_port() -> None:
    health = by_path("deploy/docker/healthcheck.py")
    assert health.url_of("api", {"NEWSAGG_API_HOST": "0.0.0.0"}) == "http://127.0.0.1:8000/healthz"
    assert health.url_of("indexer", {"NEWSAGG_INDEXER_METRICS_PORT": "9103"}) == (
        "http://127.0.0.1:9103/metrics"
    )
    assert health.url_of("crawler", {"NEWSAGG_METRICS_HOST": "::"}).startswith("http://127.0.0.1")
    assert health.url_of("crawler", {"NEWSAGG_CRAWLER_METRICS_PORT": "0"}) is None
    assert health.url_of("alerts", {}) == "http://127.0.0.1:9105/metrics"
    assert health.main(["nothing"]) == 2


def test_local_kafka_reads_the_official_images_environment() -> None:
    kafka = by_path("deploy/compose/kafka/run.py")
    assert kafka.property_name("KAFKA_LOG_DIRS") == "log.dirs"
    assert kafka.property_name("KAFKA_ABC__DEF") == "abc_def"
    assert kafka.property_name("KAFKA_ABC___DEF") == "abc-def"
    props = kafka.server_properties(
        {"KAFKA_NODE_ID": "1", "KAFKA_HEAP_OPTS": "-Xmx1g", "CLUSTER_ID": "x", "PATH": "/bin"}
    )
    assert props == {"node.id": "1"}
    env = {"KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://127.0.0.1:19092"}
    assert kafka.client_port(env) == ("127.0.0.1", 19092)


def test_local_elasticsearch_passes_dotted_variables_as_settings() -> None:
    es = by_path("deploy/compose/elasticsearch/run.py")
    env = {"discovery.type": "single-node", "http.port": "19200", "ES_JAVA_OPTS": "-Xmx1g"}
    assert es.settings(env) == ["-Ediscovery.type=single-node", "-Ehttp.port=19200"]


def test_grafana_is_provisioned_from_deploy_grafana() -> None:
    """The dashboard provider's path is where compose mounts the dashboards, and compose's
    data source is deploy/grafana's (name, uid, type) at the compose network's Prometheus."""
    grafana = load(COMPOSE)["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"] if v.startswith("./"))
    provider = load(ROOT / "deploy/grafana/provisioning/dashboards/newsagg.yml")
    (path,) = [p["options"]["path"] for p in provider["providers"]]
    assert mounts["./deploy/grafana/dashboards"] == path
    assert list((ROOT / "deploy/grafana/dashboards").glob("*.json"))
    theirs = load(ROOT / "deploy/grafana/provisioning/datasources/newsagg.yml")["datasources"]
    ours = load(ROOT / "deploy/compose/grafana/datasources/newsagg.yml")["datasources"]
    keys = ("name", "uid", "type")
    assert [{k: d[k] for k in keys} for d in ours] == [{k: d[k] for k in keys} for d in theirs]
    assert ours[0]["url"] == "http://prometheus:9090"
