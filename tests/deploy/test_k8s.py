"""deploy/k8s holds what a cluster would accept and what newsagg would run with.

Every built-in resource is validated against the Kubernetes OpenAPI schemas that
kubernetes-validate bundles (strict: unknown fields fail), for the oldest and the newest
Kubernetes release we claim; the Strimzi and ECK resources, whose schemas are not bundled,
are checked field by field. Beyond the schemas: images pinned, probes, limits and a
non-root security context on every pod, every NEWSAGG_ variable a real setting with a valid
value, indexers no more than partitions, and every name one manifest uses for another
(HPA target, selectors, Secrets, ConfigMaps, volumes, ports) resolving.

Each check returns its problems; the real manifests must have none, and the
`test_check_catches` cases break a copy once per check to show that it can fail.
"""

from __future__ import annotations

import copy
import re
import socket
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import SchemaNotFoundError
from newsagg.core.adapters.kafka_bus import _HEADROOM, DLQ_SIZE_FACTOR, min_insync_replicas
from newsagg.core.settings import Settings
from newsagg.core.sources import SourcesError, load_sources, select_shard

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
DOC = ROOT / "docs" / "kubernetes.md"
PROMETHEUS = ROOT / "deploy" / "prometheus"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
KUBERNETES_VERSIONS = ("1.32.0", "1.37.0")
"""The oldest release the manifests claim (docs/kubernetes.md; StatefulSets set the pod-index
label the crawler takes its shard from since 1.28) and the newest kubernetes-validate 1.37
bundles."""
WORKLOAD_KINDS = {"Deployment", "StatefulSet"}

Resource = dict[str, Any]

# The custom resources of the operators and the fields each must carry (their schemas are
# not bundled, so these are checked here): paths of keys, as the operators' docs give them.
CLUSTER_LABEL = ("metadata", "labels", "strimzi.io/cluster")
CUSTOM_RESOURCES: dict[tuple[str, str], tuple[tuple[str, ...], ...]] = {
    ("kafka.strimzi.io/v1", "Kafka"): (
        ("metadata", "name"),
        ("spec", "kafka", "version"),
        ("spec", "kafka", "listeners"),
        ("spec", "entityOperator", "topicOperator"),
    ),
    ("kafka.strimzi.io/v1", "KafkaNodePool"): (
        CLUSTER_LABEL,
        ("spec", "replicas"),
        ("spec", "roles"),
        ("spec", "storage", "type"),
    ),
    ("kafka.strimzi.io/v1", "KafkaTopic"): (
        CLUSTER_LABEL,
        ("spec", "partitions"),
        ("spec", "replicas"),
    ),
    ("elasticsearch.k8s.elastic.co/v1", "Elasticsearch"): (
        ("metadata", "name"),
        ("spec", "version"),
        ("spec", "nodeSets"),
    ),
    ("monitoring.coreos.com/v1", "ServiceMonitor"): (
        ("spec", "selector", "matchLabels"),
        ("spec", "endpoints"),
    ),
    ("monitoring.coreos.com/v1", "PrometheusRule"): (("spec", "groups"),),
}


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")


def load_resources() -> list[Resource]:
    """Every resource of every manifest, each tagged with the file it came from."""
    resources = []
    for path in manifest_files():
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                doc["__file__"] = str(path.relative_to(K8S))
                resources.append(doc)
    return resources


def resource_id(resource: Resource) -> str:
    return f"{resource['__file__']}:{resource['kind']}/{resource['metadata']['name']}"


def without_tag(resource: Resource) -> Resource:
    return {k: v for k, v in resource.items() if k != "__file__"}


def has_path(obj: Any, path: tuple[str, ...]) -> bool:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return False
        obj = obj[key]
    return obj is not None


def of_kind(resources: list[Resource], kind: str) -> list[Resource]:
    return [r for r in resources if r["kind"] == kind]


def workloads(resources: list[Resource]) -> list[Resource]:
    return [r for r in resources if r["kind"] in WORKLOAD_KINDS]


def containers(workload: Resource) -> list[Resource]:
    spec = workload["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def one(resources: list[Resource], kind: str, name: str) -> Resource:
    (found,) = (r for r in of_kind(resources, kind) if r["metadata"]["name"] == name)
    return found


def config_data(resources: list[Resource]) -> dict[str, str]:
    return one(resources, "ConfigMap", "newsagg-config")["data"]


# --- the checks: each returns what is wrong ----------------------------------------------


def schema_problems(resources: list[Resource], version: str) -> list[str]:
    problems = []
    for resource in resources:
        key = (resource["apiVersion"], resource["kind"])
        try:
            kubernetes_validate.validate(without_tag(resource), version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            problems.append(f"{resource_id(resource)}: {path}: {exc.message}")
        except SchemaNotFoundError:
            if key not in CUSTOM_RESOURCES:
                problems.append(f"{resource_id(resource)}: no schema for {key} in {version}")
        else:
            if key in CUSTOM_RESOURCES:
                problems.append(f"{resource_id(resource)}: {key} is not a custom resource")
    return problems


def custom_resource_problems(resources: list[Resource]) -> list[str]:
    problems = []
    for resource in resources:
        required = CUSTOM_RESOURCES.get((resource["apiVersion"], resource["kind"]))
        problems.extend(
            f"{resource_id(resource)}: missing {'.'.join(path)}"
            for path in required or ()
            if not has_path(resource, path)
        )
    return problems


def pinned_image_problems(resources: list[Resource]) -> list[str]:
    """An image names a version (name:tag, not latest) or a digest."""
    problems = []
    for workload in workloads(resources):
        for container in containers(workload):
            image = container.get("image", "")
            name, _, tag = image.rpartition(":")
            if "@sha256:" in image:
                continue
            if not name or "/" in tag or tag in {"", "latest"}:
                problems.append(f"{resource_id(workload)}: {container['name']}: {image!r}")
    return problems


def image_build_problems(resources: list[Resource]) -> list[str]:
    """Each newsagg container runs the image deploy/docker/Dockerfile builds for it
    (newsagg/<stage>:<project version>) as the user that Dockerfile sets."""
    dockerfile = DOCKERFILE.read_text()
    stages = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", dockerfile, re.M | re.I))
    (user,) = re.findall(r"^USER\s+(\d+):(\d+)\s*$", dockerfile, re.M)
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    problems = []
    for workload in workloads(resources):
        context = workload["spec"]["template"]["spec"]["securityContext"]
        if (str(context.get("runAsUser")), str(context.get("runAsGroup"))) != user:
            problems.append(f"{resource_id(workload)}: not the images' user {':'.join(user)}")
        for container in containers(workload):
            image = container["image"]
            stage = image.removeprefix("newsagg/").partition(":")[0]
            if image != f"newsagg/{stage}:{version}" or stage not in stages:
                problems.append(f"{resource_id(workload)}: {image} is no newsagg/<stage>:{version}")
    return problems


def _named_port(container: Resource, port: Any) -> bool:
    declared = container.get("ports", [])
    return any(port in (p.get("name"), p["containerPort"]) for p in declared)


def pod_problems(resources: list[Resource]) -> list[str]:
    """Probes on declared ports, requests and limits, and the Pod Security restricted level."""
    problems = []
    for workload in workloads(resources):
        pod = workload["spec"]["template"]["spec"]
        where = resource_id(workload)
        context = pod.get("securityContext", {})
        if context.get("runAsNonRoot") is not True:
            problems.append(f"{where}: pod securityContext.runAsNonRoot is not true")
        if context.get("runAsUser", 1) == 0:
            problems.append(f"{where}: pod runs as uid 0")
        if context.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{where}: pod seccompProfile is not RuntimeDefault")
        for container in pod["containers"]:
            name = f"{where}: {container['name']}"
            for probe in ("livenessProbe", "readinessProbe"):
                spec = container.get(probe)
                if not spec:
                    problems.append(f"{name}: no {probe}")
                    continue
                port = (spec.get("httpGet") or spec.get("tcpSocket") or {}).get("port")
                if port is not None and not _named_port(container, port):
                    problems.append(f"{name}: {probe} port {port!r} is not a container port")
            resources_ = container.get("resources", {})
            for bound in ("requests", "limits"):
                for what in ("cpu", "memory"):
                    if what not in resources_.get(bound, {}):
                        problems.append(f"{name}: no {what} {bound}")
            security = container.get("securityContext", {})
            if security.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{name}: allowPrivilegeEscalation is not false")
            if security.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{name}: readOnlyRootFilesystem is not true")
            if security.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{name}: capabilities do not drop ALL")
            if security.get("runAsUser") == 0 or security.get("privileged"):
                problems.append(f"{name}: runs as root or privileged")
    return problems


def api_probe_problems(resources: list[Resource]) -> list[str]:
    """The API's liveness is /healthz (the process answers), its readiness /readyz (the store
    answers): swapped, a store outage would restart every API pod."""
    (container,) = one(resources, "Deployment", "newsagg-api")["spec"]["template"]["spec"][
        "containers"
    ]
    problems = []
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        got = container.get(probe, {}).get("httpGet", {}).get("path")
        if got != path:
            problems.append(f"api {probe} is {got!r}, not {path}")
    return problems


def _environment(resources: list[Resource]) -> Iterator[tuple[str, str, str | None]]:
    """(where, NEWSAGG_ name, value or None when it comes from elsewhere) of every setting."""
    for resource in of_kind(resources, "ConfigMap"):
        for key, value in (resource.get("data") or {}).items():
            if key.startswith("NEWSAGG_"):
                yield resource_id(resource), key, value
    for workload in workloads(resources):
        for container in containers(workload):
            for var in container.get("env", []):
                if var["name"].startswith("NEWSAGG_"):
                    yield resource_id(workload), var["name"], var.get("value")


def settings_problems(resources: list[Resource]) -> list[str]:
    """Every NEWSAGG_ variable names a Settings field, and the values make valid Settings."""
    fields = {f"NEWSAGG_{name.upper()}": name for name in Settings.model_fields}
    problems = [
        f"{where}: {name} is not a newsagg setting"
        for where, name, _ in _environment(resources)
        if name not in fields
    ]
    values = {
        fields[name]: value
        for _, name, value in _environment(resources)
        if value is not None and name in fields
    }
    try:
        Settings.model_validate(values)
    except ValueError as exc:
        problems.append(f"the manifests' settings are refused: {exc}")
    return problems


def scale_problems(resources: list[Resource]) -> list[str]:
    """Indexers <= partitions (more would idle); one crawler per shard; one alerts worker; the
    topics as newsagg would make them; Elasticsearch with a node for every copy of a shard."""
    config = config_data(resources)
    partitions = int(config["NEWSAGG_KAFKA_PARTITIONS"])
    replication = int(config["NEWSAGG_KAFKA_REPLICATION"])
    problems = []
    indexers = one(resources, "Deployment", "newsagg-indexer")["spec"]["replicas"]
    if indexers > partitions:
        problems.append(f"{indexers} indexers but {partitions} partitions")
    # The pods of a Deployment have no ordinal to take an NEWSAGG_ALERTS_SHARD from: with
    # two, both would deliver every saved search.
    alerts = one(resources, "Deployment", "newsagg-alerts")["spec"].get("replicas", 1)
    if alerts != 1:
        problems.append(f"{alerts} alerts workers in a Deployment: their deliveries overlap")
    crawler = one(resources, "StatefulSet", "newsagg-crawler")
    env = {v["name"]: v.get("value") for c in containers(crawler) for v in c.get("env", [])}
    if str(crawler["spec"]["replicas"]) != env.get("NEWSAGG_CRAWLER_SHARDS"):
        problems.append(
            f"{crawler['spec']['replicas']} crawlers but NEWSAGG_CRAWLER_SHARDS="
            f"{env.get('NEWSAGG_CRAWLER_SHARDS')}"
        )
    max_bytes = Settings.model_fields["kafka_max_message_bytes"].default
    limits = {"articles": max_bytes, "articles.dlq": max_bytes * DLQ_SIZE_FACTOR}
    topics = {
        t["spec"].get("topicName", t["metadata"]["name"]): t
        for t in of_kind(resources, "KafkaTopic")
    }
    if set(topics) != set(limits):
        problems.append(f"KafkaTopics {sorted(topics)}, newsagg uses {sorted(limits)}")
    for name, topic in topics.items():
        spec = topic["spec"]
        expected = {
            "partitions": partitions,
            "replicas": replication,
            "min.insync.replicas": min_insync_replicas(replication),
            "max.message.bytes": limits.get(name, 0) + _HEADROOM,
        }
        got = {
            "partitions": spec["partitions"],
            "replicas": spec["replicas"],
            **{
                k: spec.get("config", {}).get(k)
                for k in ("min.insync.replicas", "max.message.bytes")
            },
        }
        if got != expected:
            problems.append(f"KafkaTopic {name}: {got} != {expected}")
    store_copies = int(config["NEWSAGG_STORE_REPLICAS"]) + 1
    for cluster in of_kind(resources, "Elasticsearch"):
        nodes = sum(node_set["count"] for node_set in cluster["spec"]["nodeSets"])
        if nodes < store_copies:
            problems.append(f"{nodes} Elasticsearch nodes for {store_copies} copies of a shard")
    for pool in of_kind(resources, "KafkaNodePool"):
        if "broker" in pool["spec"]["roles"] and pool["spec"]["replicas"] < replication:
            problems.append(f"{pool['spec']['replicas']} brokers for replication {replication}")
    return problems


def reference_problems(resources: list[Resource]) -> list[str]:
    """Every name one resource uses for another resolves: all in one namespace, HPA target,
    Service and PDB selectors, Service target ports, ConfigMaps and Secrets (a Secret may
    instead be one the docs tell the operator to create), and volume mounts."""
    problems = [
        f"{resource_id(r)}: not in the namespace newsagg"
        for r in resources
        if r["kind"] != "Namespace" and r["metadata"].get("namespace") != "newsagg"
    ]
    documented = set(re.findall(r"create secret generic ([a-z0-9-]+)", DOC.read_text()))
    secrets = {r["metadata"]["name"] for r in of_kind(resources, "Secret")} | documented
    config_maps = {r["metadata"]["name"] for r in of_kind(resources, "ConfigMap")}
    for hpa in of_kind(resources, "HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        matches = [
            w
            for w in workloads(resources)
            if (w["apiVersion"], w["kind"], w["metadata"]["name"])
            == (target["apiVersion"], target["kind"], target["name"])
        ]
        if not matches:
            problems.append(f"{resource_id(hpa)}: no {target['kind']} {target['name']}")
        for workload in matches:
            if "replicas" in workload["spec"]:
                problems.append(f"{resource_id(workload)}: sets replicas the HPA owns")
            if any(
                "cpu" not in c.get("resources", {}).get("requests", {})
                for c in containers(workload)
            ):
                problems.append(f"{resource_id(workload)}: CPU utilisation needs CPU requests")
    for resource in [*of_kind(resources, "Service"), *of_kind(resources, "PodDisruptionBudget")]:
        selector = resource["spec"]["selector"]
        selector = (
            selector.get("matchLabels", selector) if resource["kind"] != "Service" else selector
        )
        selected = [
            w
            for w in workloads(resources)
            if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()
        ]
        if not selected:
            problems.append(f"{resource_id(resource)}: selects no pods")
        for port in resource["spec"].get("ports", []) if resource["kind"] == "Service" else []:
            target = port.get("targetPort", port["port"])
            if not any(_named_port(c, target) for w in selected for c in containers(w)):
                problems.append(f"{resource_id(resource)}: no pod port {target!r}")
    for workload in workloads(resources):
        pod = workload["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for claim in workload["spec"].get("volumeClaimTemplates", []):
            volumes[claim["metadata"]["name"]] = claim
        for volume in volumes.values():
            if "secret" in volume and volume["secret"]["secretName"] not in secrets:
                problems.append(f"{resource_id(workload)}: Secret {volume['secret']['secretName']}")
            if "configMap" in volume and volume["configMap"]["name"] not in config_maps:
                problems.append(f"{resource_id(workload)}: ConfigMap {volume['configMap']['name']}")
        for container in containers(workload):
            for source in container.get("envFrom", []):
                name = (source.get("configMapRef") or {}).get("name")
                if name and name not in config_maps:
                    problems.append(f"{resource_id(workload)}: ConfigMap {name}")
            for var in container.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref and ref["name"] not in secrets:
                    problems.append(f"{resource_id(workload)}: Secret {ref['name']}")
            for mount in container.get("volumeMounts", []):
                if mount["name"] not in volumes:
                    problems.append(f"{resource_id(workload)}: no volume {mount['name']}")
    return problems


def monitoring_problems(resources: list[Resource]) -> list[str]:
    """Each ServiceMonitor scrapes a named port of one Service, whose name (the operator's job
    name) is a job of deploy/prometheus; the PrometheusRule holds that directory's rules."""
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    problems = []
    monitored = set()
    for monitor in of_kind(resources, "ServiceMonitor"):
        labels = monitor["spec"]["selector"]["matchLabels"].items()
        services = [
            s for s in of_kind(resources, "Service") if labels <= s["metadata"]["labels"].items()
        ]
        if len(services) != 1:
            problems.append(f"{resource_id(monitor)}: selects {len(services)} Services, not 1")
            continue
        (service,) = services
        monitored.add(service["metadata"]["name"])
        ports = {port.get("name") for port in service["spec"]["ports"]}
        for endpoint in monitor["spec"]["endpoints"]:
            if endpoint["port"] not in ports:
                problems.append(f"{resource_id(monitor)}: no Service port {endpoint['port']!r}")
    if monitored != jobs:
        problems.append(
            f"ServiceMonitors make the jobs {sorted(monitored)}, the rules use {sorted(jobs)}"
        )
    rules = yaml.safe_load((PROMETHEUS / "rules" / "newsagg.rules.yml").read_text())
    for rule in of_kind(resources, "PrometheusRule"):
        if rule["spec"]["groups"] != rules["groups"]:
            problems.append(
                f"{resource_id(rule)} differs from deploy/prometheus/rules/newsagg.rules.yml: "
                "run python deploy/k8s/monitoring/prometheusrule.py"
            )
    return problems


def file_setting_problems(resources: list[Resource]) -> list[str]:
    """The files the settings name are mounted into the pods that read them: the sources, the
    Elasticsearch CA, the API key file (a ConfigMap's file must be one of its keys)."""
    config = config_data(resources)
    problems = []
    wanted = {
        "newsagg-crawler": {"NEWSAGG_SOURCES": config["NEWSAGG_SOURCES"]},
        "newsagg-indexer": {"NEWSAGG_STORE_CA_CERTS": config.get("NEWSAGG_STORE_CA_CERTS")},
        "newsagg-api": {"NEWSAGG_STORE_CA_CERTS": config.get("NEWSAGG_STORE_CA_CERTS")},
        "newsagg-alerts": {"NEWSAGG_STORE_CA_CERTS": config.get("NEWSAGG_STORE_CA_CERTS")},
    }
    for workload in workloads(resources):
        pod = workload["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        (container,) = pod["containers"]
        files = dict(wanted.get(workload["metadata"]["name"], {}))
        for var in container.get("env", []):
            if var.get("value", "").startswith("@/"):
                files[var["name"]] = var["value"][1:]
        for name, path in files.items():
            if path is None:
                continue
            file = PurePosixPath(path)
            mounts = [
                m
                for m in container.get("volumeMounts", [])
                if PurePosixPath(m["mountPath"]) == file.parent
            ]
            volume = volumes.get(mounts[0]["name"], {}) if mounts else {}
            source = volume.get("configMap") or volume.get("secret")
            items = [i["path"] for i in (source or {}).get("items", [])]
            if not source or (items and file.name not in items):
                problems.append(f"{resource_id(workload)}: {name}={path} is not mounted")
            if source and "configMap" in volume:
                data = one(resources, "ConfigMap", source["name"])["data"]
                if file.name not in data:
                    problems.append(f"{resource_id(workload)}: {source['name']} has no {file.name}")
    return problems


def sources_problems(resources: list[Resource]) -> list[str]:
    """The sources ConfigMap is a sources file the crawler accepts, and each crawler shard
    gets a source (one without would idle)."""
    text = one(resources, "ConfigMap", "newsagg-sources")["data"]["sources.yaml"]
    crawler = one(resources, "StatefulSet", "newsagg-crawler")
    shards = crawler["spec"]["replicas"]
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "sources.yaml"
        path.write_text(text)
        try:
            sources = load_sources(path)
        except SourcesError as exc:
            return [str(exc)]
    return [
        f"crawler shard {shard} of {shards} has no source"
        for shard in range(shards)
        if not select_shard(sources, shard, shards)
    ]


# --- the tests ----------------------------------------------------------------------------

RESOURCES = load_resources()


def test_the_manifests_are_there() -> None:
    kinds = {r["kind"] for r in RESOURCES}
    assert {"Deployment", "StatefulSet", "Service", "ConfigMap", "HorizontalPodAutoscaler"} <= kinds
    assert {"ServiceMonitor", "PrometheusRule"} <= kinds
    assert {"PodDisruptionBudget", "Kafka", "KafkaNodePool", "KafkaTopic", "Elasticsearch"} <= kinds


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_manifests_validate_against_the_kubernetes_schemas(version: str) -> None:
    assert schema_problems(RESOURCES, version) == []


def test_validation_needs_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """The schemas are in the wheel: validating opens no connection."""

    def refuse(*args: object) -> None:
        raise AssertionError(f"kubernetes-validate tried to connect to {args[1:]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert schema_problems(RESOURCES, KUBERNETES_VERSIONS[0]) == []


def test_custom_resources_carry_their_required_fields() -> None:
    assert custom_resource_problems(RESOURCES) == []


def test_every_image_is_pinned() -> None:
    assert pinned_image_problems(RESOURCES) == []


def test_the_images_are_those_the_dockerfile_builds_for_this_version() -> None:
    assert image_build_problems(RESOURCES) == []


def test_every_pod_has_probes_limits_and_runs_restricted() -> None:
    assert pod_problems(RESOURCES) == []


def test_the_api_is_live_on_healthz_and_ready_on_readyz() -> None:
    assert api_probe_problems(RESOURCES) == []


def test_every_setting_is_a_real_one_with_a_valid_value() -> None:
    assert settings_problems(RESOURCES) == []


def test_scale_fits_partitions_shards_and_nodes() -> None:
    assert scale_problems(RESOURCES) == []


def test_every_reference_resolves() -> None:
    assert reference_problems(RESOURCES) == []


def test_prometheus_scrapes_the_jobs_and_has_the_rules_of_deploy_prometheus() -> None:
    assert monitoring_problems(RESOURCES) == []


def test_the_files_settings_name_are_mounted() -> None:
    assert file_setting_problems(RESOURCES) == []


def test_the_sources_configmap_is_a_valid_sources_file() -> None:
    assert sources_problems(RESOURCES) == []


def test_each_kustomization_lists_exactly_its_manifests() -> None:
    """`kubectl apply -k` applies what kustomization.yaml lists: a manifest left out of it
    would never reach the cluster."""
    for kustomization in sorted(K8S.rglob("kustomization.yaml")):
        listed = yaml.safe_load(kustomization.read_text())["resources"]
        here = sorted(p.name for p in kustomization.parent.glob("*.yaml") if p != kustomization)
        assert sorted(listed) == here, kustomization


# --- each check can fail ------------------------------------------------------------------


def _edit(
    kind: str, name: str, change: Callable[[Resource], None]
) -> Callable[[list[Resource]], None]:
    def apply(resources: list[Resource]) -> None:
        change(one(resources, kind, name))

    return apply


def _pod(
    kind: str, name: str, change: Callable[[Resource], None]
) -> Callable[[list[Resource]], None]:
    return _edit(kind, name, lambda r: change(r["spec"]["template"]["spec"]))


def _container(
    kind: str, name: str, change: Callable[[Resource], None]
) -> Callable[[list[Resource]], None]:
    return _pod(kind, name, lambda pod: change(pod["containers"][0]))


BROKEN: dict[
    str, tuple[Callable[[list[Resource]], None], Callable[[list[Resource]], list[str]]]
] = {
    "unknown field": (
        _container("Deployment", "newsagg-api", lambda c: c.update(imagePullPolcy="Always")),
        lambda rs: schema_problems(rs, KUBERNETES_VERSIONS[0]),
    ),
    "wrong type": (
        _edit("Deployment", "newsagg-indexer", lambda r: r["spec"].update(replicas="three")),
        lambda rs: schema_problems(rs, KUBERNETES_VERSIONS[-1]),
    ),
    "a CR missing a field": (
        _edit("KafkaTopic", "articles", lambda r: r["spec"].pop("replicas")),
        custom_resource_problems,
    ),
    "latest image": (
        _container(
            "StatefulSet", "newsagg-crawler", lambda c: c.update(image="newsagg/crawler:latest")
        ),
        pinned_image_problems,
    ),
    "untagged image": (
        _container(
            "Deployment", "newsagg-api", lambda c: c.update(image="registry:5000/newsagg/api")
        ),
        pinned_image_problems,
    ),
    "another version": (
        _container(
            "Deployment", "newsagg-indexer", lambda c: c.update(image="newsagg/indexer:0.0.9")
        ),
        image_build_problems,
    ),
    "no such build stage": (
        _container("Deployment", "newsagg-api", lambda c: c.update(image="newsagg/search:0.1.0")),
        image_build_problems,
    ),
    "another user": (
        _pod("Deployment", "newsagg-api", lambda p: p["securityContext"].update(runAsUser=1000)),
        image_build_problems,
    ),
    "no liveness probe": (
        _container("Deployment", "newsagg-indexer", lambda c: c.pop("livenessProbe")),
        pod_problems,
    ),
    "no memory limit": (
        _container("Deployment", "newsagg-api", lambda c: c["resources"]["limits"].pop("memory")),
        pod_problems,
    ),
    "root allowed": (
        _pod("StatefulSet", "newsagg-crawler", lambda p: p["securityContext"].pop("runAsNonRoot")),
        pod_problems,
    ),
    "writable root filesystem": (
        _container(
            "Deployment",
            "newsagg-indexer",
            lambda c: c["securityContext"].update(readOnlyRootFilesystem=False),
        ),
        pod_problems,
    ),
    "probes swapped": (
        _container(
            "Deployment",
            "newsagg-api",
            lambda c: c.update(
                livenessProbe=c["readinessProbe"], readinessProbe=c["livenessProbe"]
            ),
        ),
        api_probe_problems,
    ),
    "unknown setting": (
        _edit(
            "ConfigMap", "newsagg-config", lambda r: r["data"].update(NEWSAGG_KAFKA_PARTITION="6")
        ),
        settings_problems,
    ),
    "invalid setting": (
        _edit("ConfigMap", "newsagg-config", lambda r: r["data"].update(NEWSAGG_LOG_FORMAT="xml")),
        settings_problems,
    ),
    "more indexers than partitions": (
        _edit("Deployment", "newsagg-indexer", lambda r: r["spec"].update(replicas=7)),
        scale_problems,
    ),
    "alerts workers overlapping": (
        _edit("Deployment", "newsagg-alerts", lambda r: r["spec"].update(replicas=2)),
        scale_problems,
    ),
    "alerts CA not mounted": (
        _container("Deployment", "newsagg-alerts", lambda c: c["volumeMounts"].pop()),
        file_setting_problems,
    ),
    "undocumented SMTP Secret": (
        _container(
            "Deployment",
            "newsagg-alerts",
            lambda c: c["env"][1]["valueFrom"]["secretKeyRef"].update(name="smtp"),
        ),
        reference_problems,
    ),
    "the alerts job left unscraped": (
        lambda rs: rs.remove(one(rs, "ServiceMonitor", "newsagg-alerts")),
        monitoring_problems,
    ),
    "crawlers but not shards": (
        _edit("StatefulSet", "newsagg-crawler", lambda r: r["spec"].update(replicas=3)),
        scale_problems,
    ),
    "topic partitions": (
        _edit("KafkaTopic", "articles-dlq", lambda r: r["spec"].update(partitions=3)),
        scale_problems,
    ),
    "HPA target": (
        _edit(
            "HorizontalPodAutoscaler",
            "newsagg-api",
            lambda r: r["spec"]["scaleTargetRef"].update(name="api"),
        ),
        reference_problems,
    ),
    "Service selector": (
        _edit(
            "Service", "newsagg-indexer", lambda r: r["spec"]["selector"].update(component="index")
        ),
        reference_problems,
    ),
    "another namespace": (
        _edit("KafkaTopic", "articles", lambda r: r["metadata"].pop("namespace")),
        reference_problems,
    ),
    "undocumented Secret": (
        _container(
            "Deployment",
            "newsagg-indexer",
            lambda c: c["env"][0]["valueFrom"]["secretKeyRef"].update(name="es-password"),
        ),
        reference_problems,
    ),
    "ServiceMonitor port": (
        _edit(
            "ServiceMonitor",
            "newsagg-api",
            lambda r: r["spec"]["endpoints"][0].update(port="metrics"),
        ),
        monitoring_problems,
    ),
    "a job left unscraped": (
        lambda rs: rs.remove(one(rs, "ServiceMonitor", "newsagg-indexer")),
        monitoring_problems,
    ),
    "rules out of date": (
        _edit("PrometheusRule", "newsagg", lambda r: r["spec"]["groups"][0]["rules"].pop()),
        monitoring_problems,
    ),
    "sources not mounted": (
        _container("StatefulSet", "newsagg-crawler", lambda c: c["volumeMounts"].pop()),
        file_setting_problems,
    ),
    "a shard without sources": (
        _edit(
            "ConfigMap",
            "newsagg-sources",
            lambda r: r["data"].update(
                {"sources.yaml": "sources:\n  - name: one\n    feeds: [https://one.example/rss]\n"}
            ),
        ),
        sources_problems,
    ),
    "bad sources file": (
        _edit(
            "ConfigMap",
            "newsagg-sources",
            lambda r: r["data"].update({"sources.yaml": "sources: 3\n"}),
        ),
        sources_problems,
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_check_catches(case: str) -> None:
    breaking, check = BROKEN[case]
    broken = copy.deepcopy(RESOURCES)
    breaking(broken)
    assert check(broken) != []
