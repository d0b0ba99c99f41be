"""Run real Apache Kafka and Elasticsearch as plain local Java processes.

No Docker engine exists on the project's machines, so integration tests and
`make kafka` / `make elasticsearch` start the genuine servers straight from
jars fetched off Maven Central (see the two pom.xml files beside this file).
The first start downloads into a cache dir; later starts only launch a JVM.

Stdlib only, so it can be loaded by path from any test or used as a script:

    python deploy/local/launch.py kafka [--port N]
    python deploy/local/launch.py elasticsearch [--port N]
    python deploy/local/launch.py cluster [--brokers 3] [--es-nodes 2]

From Python:

    with LocalKafka() as kafka:            # kafka.bootstrap_servers == "127.0.0.1:PORT"
        ...
        kafka.restart()                    # same ports, same data
    with LocalElasticsearch() as es:       # es.url == "http://127.0.0.1:PORT"
        ...
    with LocalKafkaCluster(3) as kafka, LocalElasticsearchCluster(2) as es:
        env = {**kafka.env, **es.env}      # NEWSAGG_BUS_URL=kafka://h:p1,h:p2,h:p3 ...
        kafka.nodes[0].kill(); kafka.nodes[0].start()   # one broker crashes, comes back
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import fcntl
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET
import zipfile
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
KAFKA_POM = HERE / "kafka" / "pom.xml"
ES_POM = HERE / "elasticsearch" / "pom.xml"
HOST = "127.0.0.1"

#: Where Elasticsearch 9 looks for a Java 21+ first (it refuses Java 17).
PREFERRED_ES_JAVA_HOMES = ("/usr/lib/jvm/temurin-25-jdk-amd64",)
ES_MIN_JAVA = 21
KAFKA_MIN_JAVA = 17


_START_BANNER = "===== newsagg launch.py: starting"
_ERROR_MARKERS = (" ERROR ", "[ERROR]", " FATAL ", "FATAL", "Exception", "Caused by", "error:")


class LaunchError(RuntimeError):
    """A local server could not be fetched, started or stopped."""


# --------------------------------------------------------------------------
# helpers


def cache_root() -> Path:
    """Cache for fetched servers: $NEWSAGG_CACHE_DIR or <repo>/.cache/local."""
    env = os.environ.get("NEWSAGG_CACHE_DIR")
    return Path(env).expanduser().resolve() if env else REPO_ROOT / ".cache" / "local"


def pom_property(pom: Path, name: str) -> str:
    """Read a <properties> entry so each version is pinned only in its pom."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(pom).getroot().find(f"m:properties/m:{name}", ns)
    if node is None or not (node.text or "").strip():
        raise LaunchError(f"{pom} has no <{name}> property")
    return (node.text or "").strip()


def free_ports(count: int) -> list[int]:
    """Distinct free TCP ports on 127.0.0.1 (all held open while choosing)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_open(port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def java_major(java_home: Path) -> int | None:
    """Major Java version of a JDK dir, from its `release` file or `java -version`."""
    release = java_home / "release"
    if release.is_file():
        for line in release.read_text(errors="replace").splitlines():
            if line.startswith("JAVA_VERSION="):
                return _parse_java_version(line.split("=", 1)[1].strip().strip('"'))
    java = java_home / "bin" / "java"
    if not java.is_file():
        return None
    out = subprocess.run(
        [str(java), "-version"], capture_output=True, text=True, check=False
    ).stderr
    for token in out.split():
        if token.startswith('"') and token.endswith('"'):
            return _parse_java_version(token.strip('"'))
    return None


def _parse_java_version(text: str) -> int | None:
    parts = text.split(".")
    try:
        major = int(parts[0])
        return int(parts[1]) if major == 1 and len(parts) > 1 else major
    except ValueError:
        return None


def find_java_home(
    min_major: int, env_vars: tuple[str, ...], preferred: tuple[str, ...] = ()
) -> Path:
    """Pick a JDK >= min_major.

    Order: the first set env var in `env_vars` (must qualify), `preferred`,
    $JAVA_HOME, `java` on PATH, then anything under /usr/lib/jvm.
    """
    for var in env_vars:
        value = os.environ.get(var)
        if value:
            home = Path(value)
            major = java_major(home)
            if major is None or major < min_major:
                raise LaunchError(f"${var}={value} is Java {major}; need Java {min_major}+")
            return home
    candidates = [Path(p) for p in preferred]
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    on_path = shutil.which("java")
    if on_path:
        candidates.append(Path(on_path).resolve().parent.parent)
    jvm_dir = Path("/usr/lib/jvm")
    if jvm_dir.is_dir():
        candidates.extend(sorted(p for p in jvm_dir.iterdir() if p.is_dir() and not p.is_symlink()))
    for home in candidates:
        major = java_major(home)
        if major is not None and major >= min_major and (home / "bin" / "java").is_file():
            return home
    raise LaunchError(f"no Java {min_major}+ found; set {env_vars[0]} to a JDK home")


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Serialise fetches so parallel test workers do not download twice."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def run_maven(pom: Path, goal: str, props: Mapping[str, str]) -> None:
    """Run one dependency-plugin goal of `pom`; Maven Central is the only source."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LaunchError("`mvn` is not on PATH; it is needed once to fetch the servers")
    cmd = [mvn, "-B", "-q", "--no-transfer-progress", "-f", str(pom), goal]
    cmd += [f"-D{key}={value}" for key, value in props.items()]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise LaunchError(f"maven failed ({' '.join(cmd)}):\n{tail}")


def tail_file(path: Path, lines: int = 40) -> str:
    """Last lines of a log file, for error messages."""
    try:
        with path.open("r", errors="replace") as fh:
            return "".join(deque(fh, maxlen=lines))
    except OSError:
        return f"(no log at {path})"


def new_cluster_id() -> str:
    """A random KRaft cluster id (base64url of a UUID, as kafka-storage random-uuid)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


# --------------------------------------------------------------------------
# tiny Kafka wire protocol client (enough to prove the broker really serves)


def _kafka_call(sock: socket.socket, api_key: int, version: int, corr: int, body: bytes) -> bytes:
    client_id = b"newsagg-launch"
    header = struct.pack(">hhih", api_key, version, corr, len(client_id)) + client_id
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    data = _recv_exact(sock, size)
    (got,) = struct.unpack_from(">i", data)
    if got != corr:
        raise LaunchError(f"kafka answered correlation id {got}, expected {corr}")
    return data[4:]


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("kafka closed the connection")
        buf += chunk
    return bytes(buf)


def kafka_probe(port: int, timeout: float = 2.0) -> dict[str, Any]:
    """Send ApiVersions v0 then Metadata v4 to a broker; return what it said.

    Raises OSError/LaunchError when the broker does not answer properly. A
    broker only opens its client listener once it has caught up with the
    KRaft metadata log, so a good answer means producers can use it.
    """
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        data = _kafka_call(sock, 18, 0, 1, b"")
        error, count = struct.unpack_from(">hi", data)
        if error != 0:
            raise LaunchError(f"ApiVersions error code {error}")
        apis = {}
        for i in range(count):
            key, lo, hi = struct.unpack_from(">hhh", data, 6 + 6 * i)
            apis[key] = (lo, hi)
        result: dict[str, Any] = {"api_versions": apis, "brokers": []}
        lo, hi = apis.get(3, (99, -1))
        if lo <= 4 <= hi:
            # Metadata v4: empty topic list, no auto-creation.
            data = _kafka_call(sock, 3, 4, 2, struct.pack(">ib", 0, 0))
            (n_brokers,) = struct.unpack_from(">i", data, 4)
            off = 8
            for _ in range(n_brokers):
                node_id, hlen = struct.unpack_from(">ih", data, off)
                off += 6
                host = data[off : off + hlen].decode()
                off += hlen
                (bport, rlen) = struct.unpack_from(">ih", data, off)
                off += 6 + max(rlen, 0)
                result["brokers"].append((node_id, host, bport))
            if not result["brokers"]:
                raise LaunchError("Metadata lists no live broker yet")
        return result


# --------------------------------------------------------------------------
# base class


class _LocalServer(ABC):
    """Shared process handling: fetch, spawn, wait until ready, stop, restart."""

    name: ClassVar[str] = "server"
    version: str = ""
    _live: ClassVar[set[_LocalServer]] = set()
    _live_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        port: int | None = None,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        java_home: str | os.PathLike[str] | None = None,
        startup_timeout: float = 120.0,
        stop_timeout: float = 30.0,
    ) -> None:
        self.port: int | None = port
        self.cache_dir = Path(cache_dir).resolve() if cache_dir else cache_root()
        self.java_home: Path | None = Path(java_home) if java_home else None
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._given_data_dir = Path(data_dir).resolve() if data_dir else None
        self._work_dir: Path | None = self._given_data_dir
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_fh: Any = None
        self.last_start_seconds: float | None = None

    # -- public API -------------------------------------------------------

    @property
    def work_dir(self) -> Path:
        """Instance dir holding data, config and logs (created on first start)."""
        if self._work_dir is None:
            raise LaunchError(f"{self.name} has not been started")
        return self._work_dir

    @property
    def log_path(self) -> Path:
        """The process's stdout+stderr (the server log)."""
        return self.work_dir / "server.log"

    @property
    @abstractmethod
    def url(self) -> str:
        """Where clients connect."""

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def is_running(self) -> bool:
        """True while the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> Self:
        """Fetch if needed, start, and block until the server really serves."""
        if self.is_running():
            return self
        began = time.monotonic()
        self.ensure_installed()
        if self._work_dir is None:
            self._work_dir = Path(tempfile.mkdtemp(prefix=f"newsagg-{self.name}-"))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._choose_ports()
        self._prepare()
        cmd, env = self._command()
        self._log_fh = self.log_path.open("ab")
        self._log_fh.write(f"{_START_BANNER} {self.name} at {time.ctime()}\n".encode())
        self._log_fh.flush()
        self._proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=self.work_dir,
            stdin=subprocess.DEVNULL,
            stdout=self._log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: stop() kills all of it
            **self._popen_extra(),
        )
        with self._live_lock:
            self._live.add(self)
        try:
            self._wait_ready(began + self.startup_timeout)
        except BaseException:
            self._kill_group(graceful=False)
            raise
        self.last_start_seconds = time.monotonic() - began
        return self

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM the whole process group, SIGKILL after `timeout`; keeps data."""
        if self._proc is not None:
            self._kill_group(
                graceful=True, timeout=self.stop_timeout if timeout is None else timeout
            )

    def kill(self) -> None:
        """SIGKILL at once, like a crash (no clean shutdown); keeps data for start()."""
        if self._proc is not None:
            self._kill_group(graceful=False)

    def restart(self) -> Self:
        """Stop, then start again on the same ports with the same data dir."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop and delete the temp dir this object created (a given data_dir stays)."""
        self.stop()
        if self._work_dir is not None and self._given_data_dir is None:
            shutil.rmtree(self._work_dir, ignore_errors=True)
            self._work_dir = None

    def log_tail(self, lines: int = 40) -> str:
        """Last lines of server.log."""
        return tail_file(self.log_path, lines) if self._work_dir else ""

    def _failure_report(self) -> str:
        """First error lines of this run plus the log tail, for exceptions."""
        errors: list[str] = []
        try:
            with self.log_path.open("r", errors="replace") as fh:
                for line in fh:
                    if line.startswith(_START_BANNER):
                        errors = []
                    elif any(m in line for m in _ERROR_MARKERS) and len(errors) < 8:
                        errors.append(line)
        except OSError:
            pass
        first = f"first errors:\n{''.join(errors)}" if errors else ""
        return f"log {self.log_path}\n{first}last lines:\n{self.log_tail(25)}"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return f"<{type(self).__name__} {state} port={self.port} dir={self._work_dir}>"

    # -- subclass hooks -----------------------------------------------------

    @abstractmethod
    def ensure_installed(self) -> None:
        """Make sure the server's files are in the cache (downloading once)."""

    @abstractmethod
    def _choose_ports(self) -> None:
        """Pick the ports this server listens on (free ones unless given)."""

    @abstractmethod
    def _prepare(self) -> None:
        """Write config / format storage before each start."""

    @abstractmethod
    def _command(self) -> tuple[list[str], dict[str, str]]:
        """The server's command line and environment."""

    def _popen_extra(self) -> dict[str, Any]:
        return {}

    @abstractmethod
    def _check_ready(self) -> bool:
        """One readiness probe; True when ready."""

    # -- internals ------------------------------------------------------------

    def _wait_ready(self, deadline: float) -> None:
        last_error = ""
        while True:
            assert self._proc is not None
            code = self._proc.poll()
            if code is not None:
                raise LaunchError(
                    f"{self.name} exited with code {code} during startup; {self._failure_report()}"
                )
            try:
                if self._check_ready():
                    return
            except (OSError, LaunchError, ValueError, struct.error) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            if time.monotonic() >= deadline:
                raise LaunchError(
                    f"{self.name} not ready after {self.startup_timeout:.0f}s on {self.url}"
                    f" (last probe: {last_error or 'not ready'}); {self._failure_report()}"
                )
            time.sleep(0.25)

    def _kill_group(self, *, graceful: bool, timeout: float = 30.0) -> None:
        proc = self._proc
        if proc is None:
            return
        pgid = proc.pid  # start_new_session: the group id is the leader's pid
        if graceful:
            # Every process of the group gets SIGTERM (Elasticsearch's launcher and
            # its server JVM); give all of them, not just the leader, time to finish.
            deadline = time.monotonic() + timeout
            _signal_group(pgid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=timeout)
            while _group_alive(pgid) and time.monotonic() < deadline:
                time.sleep(0.05)
        _signal_group(pgid, signal.SIGKILL)  # whatever is still there after the timeout
        proc.wait()
        end = time.monotonic() + 10
        while _group_alive(pgid) and time.monotonic() < end:
            time.sleep(0.05)
        self._proc = None
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None
        with self._live_lock:
            self._live.discard(self)

    @classmethod
    def _stop_all(cls) -> None:
        """atexit: never leave a JVM behind when the Python process ends."""
        with cls._live_lock:
            live = list(cls._live)
        for server in live:
            with contextlib.suppress(Exception):
                server._kill_group(graceful=True, timeout=10)


atexit.register(_LocalServer._stop_all)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------
# Kafka


KAFKA_LOG4J2 = """\
# Written by deploy/local/launch.py: everything to stdout (captured in server.log).
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""


class LocalKafka(_LocalServer):
    """A single-node KRaft Kafka (combined controller+broker) on 127.0.0.1.

    `port` is the client (PLAINTEXT) port; the controller gets its own free
    port. Defaults suit tests: one partition per new topic, replication
    factor 1 everywhere, no initial rebalance delay. `config` overrides or
    adds any server.properties entry.
    """

    name = "kafka"

    def __init__(
        self,
        port: int | None = None,
        *,
        controller_port: int | None = None,
        config: Mapping[str, str | int | bool] | None = None,
        heap: str = "512m",
        node_id: int = 1,
        quorum_voters: str | None = None,
        cluster_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(port, **kwargs)
        self.controller_port = controller_port
        self.config = dict(config or {})
        self.heap = heap
        self.version = pom_property(KAFKA_POM, "kafka.version")
        self.node_id = node_id
        self.quorum_voters = quorum_voters
        """`id@host:port,...` of every controller; None: this node alone."""
        self.cluster_id: str | None = cluster_id

    @property
    def install_dir(self) -> Path:
        return self.cache_dir / f"kafka-{self.version}"

    @property
    def libs_dir(self) -> Path:
        return self.install_dir / "libs"

    @property
    def bootstrap_servers(self) -> str:
        """`host:port`, the form Kafka clients take."""
        return f"{HOST}:{self.port}"

    @property
    def url(self) -> str:
        return f"kafka://{HOST}:{self.port}"

    def ensure_installed(self) -> None:
        marker = self.install_dir / ".complete"
        if marker.exists():
            return
        with _file_lock(self.cache_dir / f".kafka-{self.version}.lock"):
            if marker.exists():
                return
            staging = self.cache_dir / f".kafka-{self.version}.partial"
            shutil.rmtree(staging, ignore_errors=True)
            run_maven(
                KAFKA_POM,
                "dependency:copy-dependencies",
                {"libs.dir": str(staging / "libs"), "build.dir": str(staging / "build")},
            )
            shutil.rmtree(staging / "build", ignore_errors=True)
            shutil.rmtree(self.install_dir, ignore_errors=True)
            staging.rename(self.install_dir)
            marker.write_text(f"kafka {self.version}\n")

    def _java(self) -> Path:
        if self.java_home is None:
            self.java_home = find_java_home(KAFKA_MIN_JAVA, ("NEWSAGG_KAFKA_JAVA_HOME",))
        return self.java_home / "bin" / "java"

    def _choose_ports(self) -> None:
        need = [p for p in (self.port, self.controller_port) if p is None]
        picked = free_ports(len(need)) if need else []
        if self.port is None:
            self.port = picked.pop(0)
        if self.controller_port is None:
            self.controller_port = picked.pop(0)

    def _properties(self) -> dict[str, str]:
        data = self.work_dir / "data"
        props: dict[str, str | int | bool] = {
            "process.roles": "broker,controller",
            "node.id": self.node_id,
            "controller.quorum.voters": self.quorum_voters
            or f"{self.node_id}@{HOST}:{self.controller_port}",
            "listeners": f"PLAINTEXT://{HOST}:{self.port},CONTROLLER://{HOST}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(data),
            "num.partitions": 1,
            "default.replication.factor": 1,
            "min.insync.replicas": 1,
            "offsets.topic.replication.factor": 1,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "share.coordinator.state.topic.replication.factor": 1,
            "share.coordinator.state.topic.min.isr": 1,
            "group.initial.rebalance.delay.ms": 0,
            "auto.create.topics.enable": True,
            # The log cleaner's default 128 MiB dedupe buffer is a lot for a test heap.
            "log.cleaner.dedupe.buffer.size": 16 * 1024 * 1024,
        }
        props.update(self.config)
        return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in props.items()}

    def _prepare(self) -> None:
        props_file = self.work_dir / "server.properties"
        lines = [f"{k}={v}" for k, v in self._properties().items()]
        props_file.write_text("# Written by deploy/local/launch.py\n" + "\n".join(lines) + "\n")
        (self.work_dir / "log4j2.properties").write_text(KAFKA_LOG4J2)
        meta = self.work_dir / "data" / "meta.properties"
        if meta.exists():  # restart: keep the formatted log dir and its cluster id
            for line in meta.read_text().splitlines():
                if line.startswith("cluster.id="):
                    self.cluster_id = line.split("=", 1)[1]
            return
        # the nodes of one cluster are formatted with the one id they are given
        self.cluster_id = self.cluster_id or new_cluster_id()
        cmd = [*self._jvm_base(), "kafka.tools.StorageTool", "format"]
        # `--cluster-id=` form: a base64url id may start with '-', which argparse would
        # otherwise read as an option (kafka-storage: "expected one argument").
        cmd += [f"--cluster-id={self.cluster_id}", "-c", str(props_file)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=self.work_dir)
        if proc.returncode != 0:
            raise LaunchError(f"kafka-storage format failed:\n{proc.stdout}{proc.stderr}")

    def _jvm_base(self) -> list[str]:
        return [
            str(self._java()),
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.work_dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.work_dir}",
            "-cp",
            f"{self.libs_dir}/*",
        ]

    def _command(self) -> tuple[list[str], dict[str, str]]:
        base = self._jvm_base()
        jvm_flags = [
            f"-Xmx{self.heap}",
            "-Xms128m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
        ]
        cmd = [
            base[0],
            *jvm_flags,
            *base[1:],
            "kafka.Kafka",
            str(self.work_dir / "server.properties"),
        ]
        env = dict(os.environ)
        for var in ("KAFKA_OPTS", "KAFKA_HEAP_OPTS", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS"):
            env.pop(var, None)
        return cmd, env

    def _check_ready(self) -> bool:
        assert self.port is not None
        if not port_open(self.port):
            return False
        kafka_probe(self.port)
        return True


# --------------------------------------------------------------------------
# Elasticsearch


class LocalElasticsearch(_LocalServer):
    """A single-node Elasticsearch on 127.0.0.1 with security off (local use only).

    Readiness means cluster health is green, or yellow only because replica
    shards have nowhere to go on a single node (every primary active,
    nothing initialising) -- after restart() indices created with replicas
    would otherwise never turn green. `settings` adds elasticsearch.yml
    entries (None removes one of ours). When run as root, the node runs as `run_as_user` (default
    $NEWSAGG_ES_USER or `nobody`), because Elasticsearch refuses root.
    """

    name = "elasticsearch"

    def __init__(
        self,
        port: int | None = None,
        *,
        transport_port: int | None = None,
        settings: Mapping[str, str | int | bool | None] | None = None,
        heap: str = "512m",
        run_as_user: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(port, **kwargs)
        self.transport_port = transport_port
        self.settings = dict(settings or {})
        self.heap = heap
        self.version = pom_property(ES_POM, "es.version")
        self.run_as_user = run_as_user or os.environ.get("NEWSAGG_ES_USER") or "nobody"

    @property
    def install_dir(self) -> Path:
        return self.cache_dir / f"elasticsearch-{self.version}"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def ensure_installed(self) -> None:
        marker = self.install_dir / ".complete"
        if marker.exists():
            return
        with _file_lock(self.cache_dir / f".elasticsearch-{self.version}.lock"):
            if marker.exists():
                return
            staging = self.cache_dir / f".elasticsearch-{self.version}.partial"
            shutil.rmtree(staging, ignore_errors=True)
            run_maven(
                ES_POM,
                "dependency:copy",
                {"download.dir": str(staging / "download"), "build.dir": str(staging / "build")},
            )
            archive = staging / "download" / f"elasticsearch-{self.version}.zip"
            _unzip_keeping_modes(archive, staging / "unpacked")
            top = staging / "unpacked" / f"elasticsearch-{self.version}"
            if not (top / "bin" / "elasticsearch").is_file():
                raise LaunchError(
                    f"{archive} has no elasticsearch-{self.version}/bin/elasticsearch"
                )
            shutil.rmtree(self.install_dir, ignore_errors=True)
            top.rename(self.install_dir)
            shutil.rmtree(staging, ignore_errors=True)
            marker.write_text(f"elasticsearch {self.version}\n")

    def _choose_ports(self) -> None:
        need = [p for p in (self.port, self.transport_port) if p is None]
        picked = free_ports(len(need)) if need else []
        if self.port is None:
            self.port = picked.pop(0)
        if self.transport_port is None:
            self.transport_port = picked.pop(0)

    def _has_module(self, module: str) -> bool:
        return (self.install_dir / "modules" / module).is_dir()

    def _settings(self) -> dict[str, str]:
        s: dict[str, str | int | bool | None] = {
            "cluster.name": "newsagg-local",
            "node.name": "local",
            "discovery.type": "single-node",
            "network.host": HOST,
            "http.port": self.port or 0,
            "transport.port": self.transport_port or 0,
            "path.data": str(self.work_dir / "data"),
            "path.logs": str(self.work_dir / "logs"),
            "cluster.routing.allocation.disk.threshold_enabled": False,
            # Tests clean up with DELETE /newsagg-*; fine for a throwaway node.
            "action.destructive_requires_name": False,
        }
        # Only set what the shipped modules define: unknown settings are fatal.
        if self._has_module("x-pack-security"):
            s["xpack.security.enabled"] = False
        if self._has_module("x-pack-ml"):
            s["xpack.ml.enabled"] = False
        if self._has_module("ingest-geoip"):
            s["ingest.geoip.downloader.enabled"] = False
        if self._has_module("x-pack-monitoring"):
            s["xpack.monitoring.collection.enabled"] = False
        s.update(self.settings)  # a None value drops a default (a cluster has no single-node)
        return {
            k: str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in s.items()
            if v is not None
        }

    def _uid_gid(self) -> tuple[int, int] | None:
        """Elasticsearch exits with 'can not run elasticsearch as root'."""
        if os.geteuid() != 0:
            return None
        try:
            pw = pwd.getpwnam(self.run_as_user)
        except KeyError:
            raise LaunchError(
                f"running as root and user {self.run_as_user!r} does not exist"
            ) from None
        return pw.pw_uid, pw.pw_gid

    def _prepare(self) -> None:
        conf = self.work_dir / "config"
        if not conf.exists():
            shutil.copytree(self.install_dir / "config", conf)
        for sub in ("data", "logs", "tmp"):
            (self.work_dir / sub).mkdir(exist_ok=True)
        lines = [f"{k}: {json.dumps(v)}" for k, v in self._settings().items()]
        (conf / "elasticsearch.yml").write_text(
            "# Written by deploy/local/launch.py\n" + "\n".join(lines) + "\n"
        )
        ids = self._uid_gid()
        if ids is not None:
            self._check_traversable(ids[0])
            for path in [self.work_dir, *self.work_dir.rglob("*")]:
                with contextlib.suppress(FileNotFoundError):
                    os.lchown(path, *ids)

    def _check_traversable(self, uid: int) -> None:
        """The unprivileged user must reach the cache and the work dir."""
        for target in (self.install_dir, self.work_dir.parent):
            for d in [target, *target.parents]:
                mode = d.stat().st_mode
                if d.stat().st_uid != uid and not mode & stat.S_IXOTH:
                    raise LaunchError(
                        f"{d} is not traversable by {self.run_as_user!r}, which runs Elasticsearch "
                        f"because it refuses root; move NEWSAGG_CACHE_DIR/TMPDIR or chmod o+x it"
                    )

    def _command(self) -> tuple[list[str], dict[str, str]]:
        if self.java_home is None:
            self.java_home = find_java_home(
                ES_MIN_JAVA, ("NEWSAGG_ES_JAVA_HOME", "ES_JAVA_HOME"), PREFERRED_ES_JAVA_HOMES
            )
        drop = ("JAVA_HOME", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS")
        env = {k: v for k, v in os.environ.items() if k not in drop}
        env.update(
            {
                "ES_JAVA_HOME": str(self.java_home),
                "ES_PATH_CONF": str(self.work_dir / "config"),
                "ES_TMPDIR": str(self.work_dir / "tmp"),
                "ES_JAVA_OPTS": f"-Xms{self.heap} -Xmx{self.heap}",
                "HOME": str(self.work_dir),
            }
        )
        return [str(self.install_dir / "bin" / "elasticsearch")], env

    def _popen_extra(self) -> dict[str, Any]:
        ids = self._uid_gid()
        return {"user": ids[0], "group": ids[1], "extra_groups": []} if ids else {}

    def health(self, timeout: float = 5.0) -> dict[str, Any]:
        """GET /_cluster/health as a dict."""
        with urllib.request.urlopen(f"{self.url}/_cluster/health", timeout=timeout) as resp:
            data: dict[str, Any] = json.load(resp)
            return data

    def _check_ready(self) -> bool:
        assert self.port is not None
        if not port_open(self.port):
            return False
        query = "wait_for_status=yellow&timeout=2s"
        try:
            with urllib.request.urlopen(f"{self.url}/_cluster/health?{query}", timeout=5) as resp:
                h = json.load(resp)
        except urllib.error.HTTPError as exc:  # 408 when yellow was not reached in time
            if exc.code == 408:
                return False
            raise
        if h.get("status") == "green":
            return True
        settled = (
            h.get("status") == "yellow"
            and h.get("initializing_shards", 1) == 0
            and h.get("relocating_shards", 1) == 0
            and h.get("unassigned_primary_shards", 0) == 0
            and h.get("number_of_pending_tasks", 1) == 0
        )
        return bool(settled)


def _unzip_keeping_modes(archive: Path, dest: Path) -> None:
    """zipfile drops Unix permissions; bin/ scripts must stay executable."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, dest))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                path.chmod(mode)
            elif info.is_dir():
                path.chmod(0o755)


# --------------------------------------------------------------------------
# clusters: several brokers, several nodes, all on 127.0.0.1

CLUSTER_KAFKA_CONFIG: dict[str, str | int | bool] = {
    "default.replication.factor": 3,
    "min.insync.replicas": 2,
    "offsets.topic.replication.factor": 3,
    # 50 partitions x 3 copies is a lot of startup work for a laptop; 10 serve many groups
    "offsets.topic.num.partitions": 10,
    "transaction.state.log.replication.factor": 3,
    "transaction.state.log.min.isr": 2,
    "share.coordinator.state.topic.replication.factor": 3,
    "share.coordinator.state.topic.min.isr": 2,
    "num.partitions": 3,
    "unclean.leader.election.enable": False,
    "auto.create.topics.enable": False,
}
"""What every broker of a LocalKafkaCluster gets on top of LocalKafka's defaults."""


class _LocalCluster(ABC):
    """Several servers of one kind, started together (a quorum forms only when enough
    of them are up) and stopped together; one node at a time can be killed and restarted."""

    kind: ClassVar[str] = "cluster"

    nodes: list[Any]

    def start(self) -> Self:
        """Start every node that is not running, in parallel; block until all serve."""
        errors: list[BaseException] = []

        def start(node: _LocalServer) -> None:
            try:
                node.start()
            except BaseException as exc:  # reported below, after the others finished
                errors.append(exc)

        threads = [
            threading.Thread(target=start, args=(node,), daemon=True)
            for node in self.nodes
            if not node.is_running()
        ]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            self.stop()
            raise errors[0]
        self.last_start_seconds = time.monotonic() - began
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def close(self) -> None:
        for node in self.nodes:
            node.close()

    def is_running(self) -> bool:
        return all(node.is_running() for node in self.nodes)

    @property
    @abstractmethod
    def url(self) -> str:
        """What NEWSAGG_BUS_URL / NEWSAGG_STORE_URL takes: every node."""

    @property
    @abstractmethod
    def env(self) -> dict[str, str]:
        """The NEWSAGG_* settings the services need to use this cluster as it is meant."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class LocalKafkaCluster(_LocalCluster):
    """`brokers` KRaft nodes, each a combined controller+broker, on 127.0.0.1.

    Every node is a voter of the controller quorum, so a majority (2 of 3) keeps the
    metadata log going; topics default to replication 3 with min.insync.replicas 2, so an
    acks=all write survives one broker down. Ports are chosen once: a restarted node keeps
    its ports and data, as a real broker host would.
    """

    kind = "kafka"

    def __init__(
        self,
        brokers: int = 3,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        heap: str = "384m",
        config: Mapping[str, str | int | bool] | None = None,
        startup_timeout: float = 180.0,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        ports = free_ports(2 * brokers)
        client, controller = ports[:brokers], ports[brokers:]
        voters = ",".join(f"{i + 1}@{HOST}:{controller[i]}" for i in range(brokers))
        cluster_id = new_cluster_id()
        self.replication = min(3, brokers)
        settings = {**CLUSTER_KAFKA_CONFIG, **dict(config or {})}
        for key in (
            "default.replication.factor",
            "offsets.topic.replication.factor",
            "transaction.state.log.replication.factor",
            "share.coordinator.state.topic.replication.factor",
        ):
            settings[key] = min(int(settings[key]), brokers)
        self.nodes: list[LocalKafka] = [
            LocalKafka(
                client[i],
                controller_port=controller[i],
                node_id=i + 1,
                quorum_voters=voters,
                cluster_id=cluster_id,
                config=settings,
                heap=heap,
                data_dir=Path(data_dir) / f"kafka-{i + 1}" if data_dir else None,
                startup_timeout=startup_timeout,
                cache_dir=cache_dir,
            )
            for i in range(brokers)
        ]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.bootstrap_servers for node in self.nodes)

    @property
    def url(self) -> str:
        return f"kafka://{self.bootstrap_servers}"

    @property
    def env(self) -> dict[str, str]:
        return {"NEWSAGG_BUS_URL": self.url, "NEWSAGG_KAFKA_REPLICATION": str(self.replication)}


class LocalElasticsearchCluster(_LocalCluster):
    """`nodes` Elasticsearch nodes forming one cluster on 127.0.0.1 (security off).

    Every node is master-eligible and data; they find each other through the transport
    ports in `discovery.seed_hosts` and bootstrap with all of them in
    `cluster.initial_master_nodes`. Indices get one replica, so with two nodes every shard
    has a copy on each. With two nodes the voting configuration holds only one of them
    (Elasticsearch keeps it odd): losing that one leaves no master, losing the other is
    survived (`voting_node()` names it). Three master-eligible nodes survive either.
    """

    kind = "elasticsearch"

    def __init__(
        self,
        nodes: int = 2,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        heap: str = "512m",
        startup_timeout: float = 180.0,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        ports = free_ports(2 * nodes)
        http, transport = ports[:nodes], ports[nodes:]
        names = [f"es-{i + 1}" for i in range(nodes)]
        common: dict[str, str | int | bool | None] = {
            "cluster.name": "newsagg-local-cluster",
            "discovery.type": None,
            "discovery.seed_hosts": ",".join(f"{HOST}:{port}" for port in transport),
            "cluster.initial_master_nodes": ",".join(names),
        }
        self.nodes: list[LocalElasticsearch] = [
            LocalElasticsearch(
                http[i],
                transport_port=transport[i],
                settings={**common, "node.name": names[i]},
                heap=heap,
                data_dir=Path(data_dir) / names[i] if data_dir else None,
                startup_timeout=startup_timeout,
                cache_dir=cache_dir,
            )
            for i in range(nodes)
        ]
        self.replicas = 1 if nodes > 1 else 0
        self.shards = nodes

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes)

    @property
    def env(self) -> dict[str, str]:
        return {
            "NEWSAGG_STORE_URL": self.url,
            "NEWSAGG_STORE_SHARDS": str(self.shards),
            "NEWSAGG_STORE_REPLICAS": str(self.replicas),
        }

    def _get(self, path: str) -> Any:
        for node in self.nodes:
            if node.is_running():
                with (
                    contextlib.suppress(OSError),
                    urllib.request.urlopen(f"{node.url}{path}", timeout=10) as resp,
                ):
                    return json.load(resp)
        raise LaunchError(f"no node of the cluster answers {path}")

    def health(self) -> dict[str, Any]:
        """GET /_cluster/health from any running node."""
        data: dict[str, Any] = self._get("/_cluster/health")
        return data

    def voting_node(self) -> LocalElasticsearch:
        """The node whose loss stops the cluster: the one in the voting configuration (with
        two nodes there is one; with more, the elected master)."""
        state = self._get(
            "/_cluster/state/metadata,master_node?filter_path=metadata.cluster_coordination,master_node"
        )
        voting = state["metadata"]["cluster_coordination"]["last_committed_config"]
        node_ids = self._get("/_nodes/_all/none")["nodes"]
        by_name = {info["name"]: node_id for node_id, info in node_ids.items()}
        master = state.get("master_node")
        for node in self.nodes:
            node_id = by_name.get(node.settings["node.name"])  # type: ignore[index]
            if len(voting) == 1 and node_id in voting:
                return node
            if len(voting) > 1 and node_id == master:
                return node
        raise LaunchError(f"no node of {sorted(by_name)} is in the voting configuration")


# --------------------------------------------------------------------------
# CLI


SERVICES: dict[str, type[_LocalServer]] = {"kafka": LocalKafka, "elasticsearch": LocalElasticsearch}


def main(argv: list[str] | None = None) -> int:
    """Run one server, or the cluster, in the foreground until Ctrl-C / SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("service", choices=[*sorted(SERVICES), "cluster"])
    parser.add_argument("--port", type=int, default=None, help="client port (default: a free one)")
    parser.add_argument("--data-dir", default=None, help="keep data here instead of a temp dir")
    parser.add_argument("--timeout", type=float, default=180.0, help="startup timeout, seconds")
    parser.add_argument("--brokers", type=int, default=3, help="cluster: Kafka brokers")
    parser.add_argument("--es-nodes", type=int, default=2, help="cluster: Elasticsearch nodes")
    args = parser.parse_args(argv)

    servers: list[Any]
    if args.service == "cluster":
        data = Path(args.data_dir) if args.data_dir else None
        servers = [
            LocalKafkaCluster(args.brokers, data_dir=data, startup_timeout=args.timeout),
            LocalElasticsearchCluster(args.es_nodes, data_dir=data, startup_timeout=args.timeout),
        ]
    else:
        servers = [
            SERVICES[args.service](args.port, data_dir=args.data_dir, startup_timeout=args.timeout)
        ]
    started = threading.Event()
    stop_requested = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        # While start() blocks (download, startup) interrupt it; afterwards just
        # wake the wait loop so the servers are stopped from normal code.
        if not stop_requested.is_set() and not started.is_set():
            stop_requested.set()
            raise KeyboardInterrupt
        stop_requested.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(f"starting {args.service}; cache: {cache_root()} (first run downloads)", flush=True)
    code = 0
    try:
        for server in servers:
            server.start()
        started.set()
        _print_ready(servers)
        print("Ctrl-C to stop.", flush=True)
        down: set[str] = set()
        while not stop_requested.wait(1.0):
            for server in servers:
                for node in getattr(server, "nodes", [server]):
                    if not node.is_running() and node.url not in down:
                        down.add(node.url)
                        print(
                            f"{node.name} at {node.url} died; log tail:\n{node.log_tail()}",
                            file=sys.stderr,
                        )
            if args.service != "cluster" and down:
                code = 1  # a lone server is gone; a cluster goes on without one node
                break
    except LaunchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        print("interrupted during startup", file=sys.stderr)
        code = 130
    finally:
        print(f"stopping {args.service} ...", flush=True)
        for server in servers:
            if args.data_dir:
                server.stop()
            else:
                server.close()
    print("stopped.", flush=True)
    return code


def _print_ready(servers: list[Any]) -> None:
    for server in servers:
        for node in getattr(server, "nodes", [server]):
            took = node.last_start_seconds or 0.0
            print(f"{node.name} {node.version} ready at {node.url} ({took:.1f}s)", flush=True)
            print(f"  data+logs: {node.work_dir}  log: {node.log_path}", flush=True)
    envs = {k: v for server in servers for k, v in getattr(server, "env", {}).items()}
    if envs:
        print("Point the services at the cluster with:", flush=True)
        for key, value in envs.items():
            print(f"  export {key}={value}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
