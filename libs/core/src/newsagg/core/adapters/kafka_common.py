"""What the Kafka bus and its consumer share, so neither imports the other's module.

KafkaBus builds a KafkaClientConfig and hands it, with a way to read the group's lag,
to each KafkaBusConsumer it makes; the consumer never sees the bus itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger("newsagg.bus.kafka")


def parse_bootstrap(url: str) -> list[str]:
    """`kafka://h1:9092,h2:9092` -> ["h1:9092", "h2:9092"]."""
    rest = url.split("://", 1)[1].strip("/")
    servers = [s.strip() for s in rest.split(",") if s.strip()]
    if not servers or any(":" not in s for s in servers):
        raise ValueError(f"{url!r}: expected kafka://host:port[,host:port]")
    return servers


@dataclass(frozen=True)
class KafkaClientConfig:
    """What every kafka-python client of one bus is built with."""

    bootstrap_servers: list[str]
    client_id: str
    request_timeout_ms: int

    def kwargs(self) -> dict[str, object]:
        return {
            "bootstrap_servers": self.bootstrap_servers,
            "client_id": self.client_id,
            "request_timeout_ms": self.request_timeout_ms,
            "reconnect_backoff_max_ms": 2000,
            "bootstrap_timeout_ms": self.request_timeout_ms,
        }
