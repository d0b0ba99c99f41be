"""docker-compose.yml for real on this machine: `make compose-test` and `make compose-up`.

    python deploy/compose/test.py test   # build, start, crawl the demo sites, check, tear down
    python deploy/compose/test.py up     # the same stack until Ctrl-C, then tear down

The machine has no image registry and no bridge network, so this script
1. starts a private Docker engine (Debian's dockerd, as root: vfs storage, no bridge, no
   iptables, its own data root, exec root and socket under /var/tmp/newsagg-compose-<id>/),
   stopped again at the end; the data root stays, so images are built once;
2. makes the base image once: `debootstrap --variant=minbase bookworm` (with python3) and
   `docker import`;
3. builds the local Kafka, Elasticsearch and Prometheus images of deploy/compose/local.yml
   (the Maven Central artifacts and the JDK deploy/local/launch.py uses, from its cache;
   Debian's prometheus), and the services' images from the `build:` sections of the merged
   compose files, with the machine's CA bundle as a build secret (never in a layer);
4. serves the demo news sites on loopback ports, picks free ports for every listener,
   and runs `docker-compose -f docker-compose.yml -f deploy/compose/local.yml up -d`;
5. (test) waits until the API container answers "Milind Soman cycling" with the demo's
   seed story first, Prometheus scrapes all five newsagg targets, and the indexers'
   consumed counters it scraped add up to the indexed articles; then `down -v`.
Exit code 0 when every check passed. Needs root (dockerd), docker.io, docker-compose and
debootstrap (the Makefile installs them), and Java + Maven like deploy/local.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
COMPOSE_FILES = (REPO / "docker-compose.yml", HERE / "local.yml")
STATE = Path("/var/tmp") / f"newsagg-compose-{hashlib.sha256(bytes(REPO)).hexdigest()[:8]}"
SOCKET = STATE / "docker.sock"
DOCKER = "/usr/bin/docker"  # Debian's client: BuildKit built in (a newer CLI wants buildx)
COMPOSE = "/usr/bin/docker-compose"
BASE_IMAGE = "newsagg-local/base:bookworm"
BASE_PACKAGES = "python3,python3-venv,ca-certificates"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
CA_BUNDLE = Path(os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt")
QUERY = "Milind Soman cycling"
NEWSAGG_TARGETS = 5  # crawler, indexer-1, indexer-2, api, alerts


class ComposeError(RuntimeError):
    """A step failed; the message says which and why."""


def log(message: str) -> None:
    print(f"[compose {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(cmd: Sequence[str], env: dict[str, str] | None = None, **kwargs: Any) -> str:
    """Run a command; its output on failure is the error."""
    proc = subprocess.run(list(cmd), env=env, capture_output=True, text=True, check=False, **kwargs)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise ComposeError(f"{' '.join(cmd[:4])} ... failed ({proc.returncode}):\n{tail}")
    return proc.stdout


def launcher() -> ModuleType:
    """deploy/local/launch.py (stdlib only), loaded by path as the tests load it."""
    spec = importlib.util.spec_from_file_location("newsagg_local", REPO / "deploy/local/launch.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- the engine


class Engine:
    """A private dockerd: own data root, exec root, pid file and socket; no bridge, no
    iptables, so the machine's network is never touched (containers use host networking)."""

    def __init__(self, state: Path = STATE) -> None:
        self.state = state
        self.env = {**os.environ, "DOCKER_HOST": f"unix://{state / 'docker.sock'}"}
        self.env["DOCKER_BUILDKIT"] = "1"
        self.proc: subprocess.Popen[bytes] | None = None

    def answers(self) -> bool:
        probe = subprocess.run(
            [DOCKER, "version", "--format", "{{.Server.Version}}"],
            env=self.env,
            capture_output=True,
            check=False,
        )
        return probe.returncode == 0

    def start(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        self._stop_leftover()
        command = [
            "dockerd",
            "--storage-driver=vfs",
            "--iptables=false",
            "--ip-masq=false",
            "--bridge=none",
            f"--data-root={self.state / 'data-root'}",
            f"--exec-root={self.state / 'exec'}",
            f"--pidfile={self.state / 'dockerd.pid'}",
            f"--host=unix://{self.state / 'docker.sock'}",
        ]
        with (self.state / "dockerd.log").open("ab") as out:
            self.proc = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 60
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise ComposeError(f"dockerd did not start; see {self.state / 'dockerd.log'}")
            time.sleep(0.5)

    def _stop_leftover(self) -> None:
        """A dockerd of an interrupted earlier run on our own pid file: stop it first."""
        pidfile = self.state / "dockerd.pid"
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            pid = int(pidfile.read_text().strip())
            if Path(f"/proc/{pid}/exe").resolve().name == "dockerd":
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + 60
                while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                    time.sleep(0.5)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None
        # dockerd leaves its default network namespace mounted in the exec root.
        netns = self.state / "exec" / "netns" / "default"
        if os.path.ismount(netns):
            subprocess.run(["umount", str(netns)], check=False)

    def prune(self) -> None:
        """Drop replaced images, and the build cache when the disk runs low: with vfs every
        layer is a full copy of its image, so the data root grows by gigabytes a build."""
        self.docker("image", "prune", "--force")
        usage = shutil.disk_usage(self.state)  # df's view: used / (used + available)
        if usage.free < 0.3 * (usage.used + usage.free):
            log(f"under 30 % of the disk free: dropping the build cache in {self.state}")
            self.docker("builder", "prune", "--all", "--force")

    def docker(self, *args: str, **kwargs: Any) -> str:
        return run([DOCKER, *args], env=self.env, **kwargs)

    def has_image(self, name: str) -> bool:
        probe = subprocess.run(
            [DOCKER, "image", "inspect", name], env=self.env, capture_output=True, check=False
        )
        return probe.returncode == 0

    def build(self, tag: str, context: Path, *extra: str) -> None:
        began = time.monotonic()
        self.docker("build", "--network=host", "--progress=plain", "-t", tag, *extra, str(context))
        log(f"built {tag} ({time.monotonic() - began:.0f} s)")


# --------------------------------------------------------------------------- images


def ensure_base_image(engine: Engine) -> None:
    """Debian bookworm minbase with python3, made once and kept in the engine's data root."""
    if engine.has_image(BASE_IMAGE):
        return
    if shutil.which("debootstrap") is None:
        raise ComposeError("debootstrap is missing: `make compose-tools` installs it")
    rootfs = engine.state / "rootfs"
    shutil.rmtree(rootfs, ignore_errors=True)
    began = time.monotonic()
    run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={BASE_PACKAGES}",
            "bookworm",
            str(rootfs),
            DEBIAN_MIRROR,
        ]
    )
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for item in (rootfs / cache).glob("*"):
            if item.is_file():
                item.unlink()
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    run([DOCKER, "import", "-", BASE_IMAGE], env=engine.env, stdin=tar.stdout)
    tar.wait()
    shutil.rmtree(rootfs, ignore_errors=True)
    log(f"base image {BASE_IMAGE} bootstrapped ({time.monotonic() - began:.0f} s)")


def _link_tree(source: Path, target: Path) -> None:
    """A build context's copy of a big tree: hard links when on one file system."""

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, symlinks=True, copy_function=link)


def build_local_images(engine: Engine) -> None:
    """The JVM, Kafka, Elasticsearch and Prometheus images deploy/compose/local.yml names."""
    local = launcher()
    kafka, elasticsearch = local.LocalKafka(), local.LocalElasticsearch()
    kafka.ensure_installed()  # Maven Central, once, into deploy/local's cache
    elasticsearch.ensure_installed()
    jdk = local.find_java_home(
        local.ES_MIN_JAVA, ("NEWSAGG_ES_JAVA_HOME", "ES_JAVA_HOME"), local.PREFERRED_ES_JAVA_HOMES
    )
    contexts = engine.state / "contexts"
    shutil.rmtree(contexts, ignore_errors=True)
    staged = {
        "jvm": {"jdk": jdk},
        "kafka": {"libs": kafka.libs_dir},
        "elasticsearch": {"elasticsearch": elasticsearch.install_dir},
    }
    for name, trees in staged.items():
        context = contexts / name
        shutil.copytree(HERE / name, context)
        for target, source in trees.items():
            _link_tree(Path(source), context / target)
    engine.build("newsagg-local/jvm:bookworm", contexts / "jvm")
    engine.build(f"newsagg-local/kafka:{kafka.version}", contexts / "kafka")
    engine.build(f"newsagg-local/elasticsearch:{elasticsearch.version}", contexts / "elasticsearch")
    engine.build("newsagg-local/prometheus:2.42.0", HERE / "prometheus")
    shutil.rmtree(contexts, ignore_errors=True)


def compose_config(env: dict[str, str]) -> dict[str, Any]:
    """The merged, interpolated compose configuration, as docker-compose itself reads it."""
    files = [arg for path in COMPOSE_FILES for arg in ("-f", str(path))]
    return yaml.safe_load(run([COMPOSE, *files, "config"], env=env, cwd=REPO))


def build_service_images(engine: Engine, config: dict[str, Any]) -> None:
    """Each image of a service with a `build:` section, once, as the compose file says,
    plus the CA bundle as a build secret (docker-compose 1.29 cannot pass secrets)."""
    built: set[str] = set()
    for service in config["services"].values():
        build, image = service.get("build"), service.get("image")
        if not build or image in built:
            continue
        context = Path(build.get("context", REPO))
        extra = ["-f", str(context / build.get("dockerfile", "Dockerfile"))]
        if build.get("target"):
            extra += ["--target", build["target"]]
        for key, value in (build.get("args") or {}).items():
            extra += ["--build-arg", f"{key}={value}"]
        if CA_BUNDLE.is_file():
            extra += ["--secret", f"id=ca-bundle,src={CA_BUNDLE}"]
        engine.build(image, context, *extra)
        built.add(image)


# --------------------------------------------------------------------------- the stack


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


PORT_VARIABLES = (
    "LOCAL_KAFKA_PORT",
    "LOCAL_KAFKA_CONTROLLER_PORT",
    "LOCAL_ES_PORT",
    "LOCAL_ES_TRANSPORT_PORT",
    "LOCAL_PROMETHEUS_PORT",
    "LOCAL_INDEXER_2_METRICS_PORT",
    "NEWSAGG_API_PORT",
    "NEWSAGG_CRAWLER_METRICS_PORT",
    "NEWSAGG_INDEXER_METRICS_PORT",
    "NEWSAGG_ALERTS_METRICS_PORT",
)


def prometheus_targets(directory: Path, ports: dict[str, int]) -> Path:
    """File-discovery targets for the loopback ports (what targets/ is on a compose network)."""
    directory.mkdir(parents=True, exist_ok=True)
    jobs = {
        "newsagg-crawler": ["NEWSAGG_CRAWLER_METRICS_PORT"],
        "newsagg-indexer": ["NEWSAGG_INDEXER_METRICS_PORT", "LOCAL_INDEXER_2_METRICS_PORT"],
        "newsagg-api": ["NEWSAGG_API_PORT"],
        "newsagg-alerts": ["NEWSAGG_ALERTS_METRICS_PORT"],
    }
    for job, variables in jobs.items():
        targets = [f"127.0.0.1:{ports[v]}" for v in variables]
        (directory / f"{job}.yml").write_text(yaml.safe_dump([{"targets": targets}]))
    return directory


class Stack:
    """docker-compose on the merged configuration, under a project name of its own.

    `docker-compose config` merges docker-compose.yml and local.yml; the services on the
    host network lose the base file's `ports:` (docker refuses both, and an override can
    add to a list but not empty it) and the result, written to `work`, is what runs."""

    def __init__(self, engine: Engine, project: str, env: dict[str, str], work: Path) -> None:
        self.engine = engine
        # Removing a container copies nothing but deletes a whole vfs tree: on a loaded
        # machine that outlasts docker-compose's default 60 s client timeout.
        self.env = {**engine.env, "COMPOSE_HTTP_TIMEOUT": "600", **env}
        self.config = compose_config(self.env)
        for service in self.config["services"].values():
            if service.get("network_mode") == "host":
                service.pop("ports", None)
        merged = work / "docker-compose.merged.yml"
        merged.write_text(yaml.safe_dump(self.config, sort_keys=False))
        self.project = project
        self.base = [COMPOSE, "--project-name", project, "--project-directory", str(REPO)]
        self.base += ["-f", str(merged)]

    @property
    def services(self) -> set[str]:
        """The services that run (a service in a profile, Grafana here, does not)."""
        return {n for n, s in self.config["services"].items() if not s.get("profiles")}

    def compose(self, *args: str) -> str:
        return run([*self.base, *args], env=self.env, cwd=REPO)

    def containers(self) -> dict[str, str]:
        """Service name -> container id."""
        ids = self.compose("ps", "-q").split()
        if not ids:
            return {}
        out = self.engine.docker(
            "inspect",
            "--format",
            '{{index .Config.Labels "com.docker.compose.service"}} {{.Id}}',
            *ids,
        )
        return dict(line.split() for line in out.splitlines() if line.strip())

    def health(self) -> dict[str, str]:
        """Service -> health status (or the state of a container without a healthcheck)."""
        states: dict[str, str] = {}
        for service, cid in self.containers().items():
            fmt = "{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}"
            states[service] = self.engine.docker("inspect", "--format", fmt, cid).strip()
        return states

    def wait_healthy(self, expected: set[str], timeout: float) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while True:
            states = self.health()
            if set(states) >= expected and all(states[s] == "healthy" for s in expected):
                return states
            if time.monotonic() > deadline:
                raise ComposeError(f"not healthy after {timeout:.0f} s: {states}")
            time.sleep(2)

    def remove(self, *, volumes: bool) -> None:
        """`down`, then whatever it left (a container stuck in removal, its volumes)."""
        keep = ["--volumes"] if volumes else []
        try:
            self.compose("down", *keep, "--remove-orphans", "--timeout", "20")
        except ComposeError as exc:
            print(f"compose: down failed, removing what is left: {exc}", file=sys.stderr)
        label = f"label=com.docker.compose.project={self.project}"
        leftovers = self.engine.docker("ps", "-aq", "--filter", label).split()
        if leftovers:
            self.engine.docker("rm", "-f", "-v", *leftovers)
        if volumes:
            names = self.engine.docker("volume", "ls", "-q", "--filter", label).split()
            if names:
                self.engine.docker("volume", "rm", "-f", *names)

    def diagnose(self) -> None:
        """What a failed run needs: each service's state and the end of its log."""
        with contextlib.suppress(ComposeError):
            print(self.compose("ps"), file=sys.stderr)
        with contextlib.suppress(ComposeError):
            print(self.compose("logs", "--no-color", "--tail=30"), file=sys.stderr)


def get_json(url: str, timeout: float = 5) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def wait_for_seed_story(api: str, story_url: str, timeout: float) -> dict[str, Any]:
    """The API container's answer once the seed story, as this run's demo site serves it,
    is the first hit."""
    url = f"{api}/v1/search?{urllib.parse.urlencode({'q': QUERY})}"
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            last = get_json(url)
            hits = last.get("hits") or []
            if hits and hits[0]["url"] == story_url:
                return last
        time.sleep(2)
    raise ComposeError(f"{url}: {story_url} is not the first hit; last answer {last}")


def wait_for_consumed(prometheus: str, articles: int, timeout: float) -> dict[str, float]:
    """Articles consumed per indexer instance, as Prometheus scraped them, once together
    they account for every indexed article (the two indexers share one consumer group)."""
    query = urllib.parse.urlencode({"query": "sum by (instance) (newsagg_bus_consumed_total)"})
    deadline = time.monotonic() + timeout
    consumed: dict[str, float] = {}
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            result = get_json(f"{prometheus}/api/v1/query?{query}")["data"]["result"]
            consumed = {r["metric"]["instance"]: float(r["value"][1]) for r in result}
            if sum(consumed.values()) >= articles:
                return consumed
        time.sleep(2)
    raise ComposeError(f"Prometheus saw {consumed} consumed, fewer than {articles} indexed")


def wait_for_scrapes(prometheus: str, timeout: float) -> list[dict[str, Any]]:
    """Every newsagg target scraped and up, as Prometheus's own API reports it."""
    query = urllib.parse.urlencode({"query": 'up{job=~"newsagg-.*"}'})
    deadline = time.monotonic() + timeout
    result: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            result = get_json(f"{prometheus}/api/v1/query?{query}")["data"]["result"]
            if len(result) == NEWSAGG_TARGETS and all(r["value"][1] == "1" for r in result):
                return result
        time.sleep(2)
    raise ComposeError(f"Prometheus does not see {NEWSAGG_TARGETS} newsagg targets up: {result}")


@contextlib.contextmanager
def demo_sites(keep_in: Path | None) -> Iterator[Any]:
    """The bundled demo outlets on loopback ports, served from this checkout."""
    from newsagg.cli.demo_site import DemoSites

    sites = (DemoSites.kept_in(keep_in) if keep_in else DemoSites()).start()
    try:
        yield sites
    finally:
        sites.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["test", "up"])
    parser.add_argument("--timeout", type=float, default=600, help="seconds for each wait")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("compose: dockerd needs root; run as root", file=sys.stderr)
        return 2
    began = time.monotonic()
    engine = Engine()
    work = Path(tempfile.mkdtemp(prefix="newsagg-compose-"))
    stack: Stack | None = None
    try:
        engine.start()
        log(f"private dockerd on {engine.env['DOCKER_HOST']}")
        ensure_base_image(engine)
        build_local_images(engine)
        manifest = json.loads((REPO / "deploy/demo-site/manifest.json").read_text())
        with demo_sites(STATE / "demo" if args.mode == "up" else None) as sites:
            sources = work / "sources.yaml"
            sources.write_text(sites.sources_yaml(interval=30))
            sources.chmod(0o644)
            if args.mode == "test":
                ports = dict(zip(PORT_VARIABLES, free_ports(len(PORT_VARIABLES)), strict=True))
            else:
                ports = {
                    "LOCAL_KAFKA_PORT": 19092, "LOCAL_KAFKA_CONTROLLER_PORT": 19093,
                    "LOCAL_ES_PORT": 19200, "LOCAL_ES_TRANSPORT_PORT": 19300,
                    "LOCAL_PROMETHEUS_PORT": 19090, "LOCAL_INDEXER_2_METRICS_PORT": 9103,
                    "NEWSAGG_API_PORT": 8000, "NEWSAGG_CRAWLER_METRICS_PORT": 9101,
                    "NEWSAGG_INDEXER_METRICS_PORT": 9102, "NEWSAGG_ALERTS_METRICS_PORT": 9105,
                }  # fmt: skip
            env = {key: str(value) for key, value in ports.items()}
            env["SOURCES_FILE"] = str(sources)
            env["LOCAL_PROMETHEUS_TARGETS"] = str(prometheus_targets(work / "targets", ports))
            stack = Stack(engine, f"newsagg-{args.mode}", env, work)
            build_service_images(engine, stack.config)
            engine.prune()
            log(f"images ready ({time.monotonic() - began:.0f} s since start)")
            if args.mode == "test":  # what an interrupted earlier run left must not count
                stack.remove(volumes=True)
            started = time.monotonic()
            stack.compose("up", "-d", "--no-build")
            stack.wait_healthy(stack.services, args.timeout)
            took = time.monotonic() - started
            log(f"all {len(stack.services)} containers healthy ({took:.0f} s)")
            api = f"http://127.0.0.1:{ports['NEWSAGG_API_PORT']}"
            prometheus = f"http://127.0.0.1:{ports['LOCAL_PROMETHEUS_PORT']}"
            seed = f"{sites.url}/articles/{manifest['reference_slug']}.html"
            page = wait_for_seed_story(api, seed, args.timeout)
            log(f"API container: {QUERY!r} -> first of {page['total']}: {page['hits'][0]['url']}")
            up = wait_for_scrapes(prometheus, args.timeout)
            instances = sorted(f"{r['metric']['job']}@{r['metric']['instance']}" for r in up)
            log(f"Prometheus scrapes {len(up)} newsagg targets, all up: {', '.join(instances)}")
            ready = get_json(f"{api}/readyz")
            log(f"indexed {ready.get('articles')} articles ({time.monotonic() - started:.0f} s)")
            if args.mode == "test":  # `up` keeps its volumes: older articles count too
                consumed = wait_for_consumed(prometheus, ready["articles"], args.timeout)
                shares = ", ".join(f"{i}: {n:.0f}" for i, n in sorted(consumed.items()))
                log(f"consumed per indexer, as Prometheus scraped it: {shares}")
            else:
                search = f"{api}/?q={QUERY.replace(' ', '+')}"
                print(f"\nSearch page: {search}\nPrometheus:  {prometheus}", flush=True)
                print("Ctrl-C stops and removes the containers.", flush=True)
                with contextlib.suppress(KeyboardInterrupt):
                    signal.pause()
        log(f"compose {args.mode} passed in {time.monotonic() - began:.0f} s")
        return 0
    except (ComposeError, OSError, ValueError) as exc:
        if stack is not None:
            stack.diagnose()
        print(f"compose {args.mode} FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if stack is not None:
            try:
                stack.remove(volumes=args.mode == "test")  # `up` keeps its data
            except ComposeError as exc:
                print(f"compose: tear-down incomplete: {exc}", file=sys.stderr)
        engine.stop()
        shutil.rmtree(work, ignore_errors=True)
        log(f"torn down, dockerd stopped ({time.monotonic() - began:.0f} s in all)")


if __name__ == "__main__":
    sys.exit(main())
