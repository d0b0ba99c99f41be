"""Entrypoint of the local Kafka image (deploy/compose/kafka/Dockerfile).

    run.py          write server.properties from the environment, format the log
                    directories on first start, then become the broker (exec java)
    run.py health   exit 0 when the broker answers an ApiVersions request

The environment follows the official apache/kafka image, so the compose file configures
both alike: KAFKA_<NAME> sets the server property <name>, where `_` stands for `.`, `__`
for `_` and `___` for `-` (KAFKA_LOG_DIRS -> log.dirs); CLUSTER_ID names the cluster
when the storage is formatted; KAFKA_HEAP_OPTS sets the heap. Stdlib only.
"""

from __future__ import annotations

import os
import re
import socket
import struct
import subprocess
import sys
from pathlib import Path

KAFKA_HOME = Path("/opt/kafka")
CONFIG = Path("/tmp/server.properties")
LOG4J2 = Path("/tmp/log4j2.properties")
DEFAULT_CLUSTER_ID = "5L6g3nShT-eMCtK--X86sw"  # the official image's default
NOT_PROPERTIES = {
    "KAFKA_HEAP_OPTS",
    "KAFKA_OPTS",
    "KAFKA_JMX_OPTS",
    "KAFKA_LOG4J_OPTS",
    "KAFKA_JVM_PERFORMANCE_OPTS",
    "KAFKA_GC_LOG_OPTS",
    "KAFKA_DEBUG",
    "KAFKA_VERSION",
    "KAFKA_LOG4J_ROOT_LOGLEVEL",
    "KAFKA_LOG4J_LOGGERS",
}
LOG4J2_CONFIG = """\
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


def property_name(variable: str) -> str:
    """KAFKA_LOG_DIRS -> log.dirs, KAFKA_A__B -> a_b, KAFKA_A___B -> a-b."""
    words = variable.removeprefix("KAFKA_").lower()
    return re.sub(r"_{1,3}", lambda m: {1: ".", 2: "_", 3: "-"}[len(m.group())], words)


def server_properties(env: dict[str, str]) -> dict[str, str]:
    return {
        property_name(key): value
        for key, value in sorted(env.items())
        if key.startswith("KAFKA_") and key not in NOT_PROPERTIES
    }


def java(*args: str) -> list[str]:
    return [
        "java",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={LOG4J2}",
        "-cp",
        f"{KAFKA_HOME}/libs/*",
        *args,
    ]


def start(env: dict[str, str]) -> None:
    props = server_properties(env)
    if "process.roles" not in props:
        sys.exit("set KAFKA_PROCESS_ROLES (and the other KRaft settings) in the environment")
    CONFIG.write_text("".join(f"{key}={value}\n" for key, value in props.items()))
    LOG4J2.write_text(LOG4J2_CONFIG)
    log_dirs = props.get("log.dirs", props.get("log.dir", "/tmp/kafka-logs")).split(",")
    if not all((Path(d) / "meta.properties").exists() for d in log_dirs):
        cluster_id = env.get("CLUSTER_ID", DEFAULT_CLUSTER_ID)
        subprocess.run(
            [
                *java("kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}"),
                "--ignore-formatted",
                "-c",
                str(CONFIG),
            ],
            check=True,
        )
    heap = env.get("KAFKA_HEAP_OPTS", "-Xmx512m -Xms128m").split()
    command = java(*heap, "-XX:+UseG1GC", "-XX:+ExitOnOutOfMemoryError", "kafka.Kafka", str(CONFIG))
    os.execvp(command[0], command)


def client_port(env: dict[str, str]) -> tuple[str, int]:
    """Host and port of the first advertised (else listening) non-controller listener."""
    props = server_properties(env)
    controllers = set(props.get("controller.listener.names", "CONTROLLER").split(","))
    listeners = props.get("advertised.listeners") or props.get("listeners", "")
    for listener in listeners.split(","):
        name, _, address = listener.partition("://")
        if name and name not in controllers:
            host, _, port = address.rpartition(":")
            return (host if host not in {"", "0.0.0.0"} else "127.0.0.1"), int(port)
    return "127.0.0.1", 9092


def health(env: dict[str, str]) -> int:
    """ApiVersions v0 over the wire: the broker serves clients, not just a bound port."""
    host, port = client_port(env)
    client = b"healthcheck"
    request = struct.pack(">hhih", 18, 0, 1, len(client)) + client
    try:
        with socket.create_connection((host, port), timeout=4) as sock:
            sock.sendall(struct.pack(">i", len(request)) + request)
            header = sock.recv(10)
    except OSError as exc:
        print(f"kafka {host}:{port}: {exc}", file=sys.stderr)
        return 1
    if len(header) < 10 or struct.unpack(">ih", header[4:10]) != (1, 0):
        print(f"kafka {host}:{port}: no ApiVersions answer", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["health"]:
        sys.exit(health(dict(os.environ)))
    start(dict(os.environ))
