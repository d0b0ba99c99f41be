"""KafkaBus: the production Bus on Apache Kafka, through kafka-python.

Selected by `NEWSAGG_BUS_URL=kafka://host:port[,host:port]`. Topics (and their
`.dlq`) are created on first use with the configured partitions and replication
(and min.insync.replicas 2 from replication 3 on).
The producer is idempotent with acks=all, so a broker restart neither loses nor
duplicates what it retries; the consumer commits only what the caller says is done.
Every kafka-python error that means "the broker cannot be reached" becomes
BusUnavailable, which the services retry; nothing else here leaks kafka types.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition, codec
from kafka import errors as kafka_errors
from kafka.admin import OffsetSpec
from kafka.structs import OffsetAndMetadata
from newsagg.core.adapters.kafka_common import KafkaClientConfig, log, parse_bootstrap
from newsagg.core.adapters.kafka_consumer import KafkaBusConsumer
from newsagg.core.ports import (
    BusUnavailable,
    GroupActive,
    Message,
    dead_letter_topic,
    publish_dead_letter,
)
from newsagg.core.settings import Settings

DLQ_SIZE_FACTOR = 8
"""A dead-letter topic accepts messages this many times the normal limit, so an
oversized message can be kept whole for inspection."""
_HEADROOM = 64 * 1024  # batch and header overhead the broker counts on top of our estimate
_CODECS = {
    "gzip": codec.has_gzip,
    "snappy": codec.has_snappy,
    "lz4": codec.has_lz4,
    "zstd": codec.has_zstd,
}
_TOO_LARGE = (kafka_errors.MessageSizeTooLargeError, kafka_errors.RecordListTooLargeError)


def min_insync_replicas(replication: int) -> int:
    """Copies an acks=all write must reach: 2 from replication 3 on (a write survives the
    loss of one broker and publishing goes on while one is down), else 1."""
    return max(1, min(2, replication - 1))


def _is_dead_letter(topic: str) -> bool:
    return topic.endswith(".dlq")


@dataclass(frozen=True)
class _Unsent:
    topic: str
    key: str | None
    value: bytes
    headers: Mapping[str, str]


class KafkaBus:
    """The production Bus: `kafka://host:9092`."""

    def __init__(self, bootstrap_servers: list[str], settings: Settings) -> None:
        if logging.getLogger("kafka").level == logging.NOTSET:
            logging.getLogger("kafka").setLevel(logging.WARNING)  # INFO is per-connection chatter
        compression = settings.kafka_compression
        if compression != "none" and not _CODECS[compression]():
            raise ValueError(
                f"NEWSAGG_KAFKA_COMPRESSION={compression}: its Python codec is not installed"
            )
        self.bootstrap_servers = bootstrap_servers
        self.settings = settings
        self.max_message_bytes = settings.kafka_max_message_bytes
        self.dead_letter_max_bytes = settings.kafka_max_message_bytes * DLQ_SIZE_FACTOR
        self._delivery_ms = int(settings.kafka_delivery_timeout * 1000)
        self._request_ms = max(1000, min(30_000, self._delivery_ms - settings.kafka_linger_ms))
        self._clients = KafkaClientConfig(
            bootstrap_servers, settings.kafka_client_id, self._request_ms
        )
        self._lock = threading.Lock()
        self._producer: KafkaProducer | None = None
        self._admin: KafkaAdminClient | None = None
        self._ready_topics: set[str] = set()
        self._failed: list[tuple[_Unsent, Exception]] = []  # filled by the producer's IO thread

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> KafkaBus:
        return cls(parse_bootstrap(url), settings)

    # -- clients, created on first use so a consumer-only process opens no producer

    def client_config(self) -> dict[str, object]:
        """What every kafka-python client of this bus is built with."""
        return self._clients.kwargs()

    def admin(self) -> KafkaAdminClient:
        with self._lock:
            if self._admin is None:
                try:
                    self._admin = KafkaAdminClient(**self.client_config())
                except kafka_errors.KafkaError as exc:
                    raise BusUnavailable(f"cannot reach Kafka at {self._where}: {exc}") from exc
            return self._admin

    def _producer_client(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                compression = self.settings.kafka_compression
                try:
                    self._producer = KafkaProducer(
                        **self.client_config(),
                        acks="all",
                        enable_idempotence=True,
                        compression_type=None if compression == "none" else compression,
                        linger_ms=self.settings.kafka_linger_ms,
                        batch_size=256 * 1024,
                        max_request_size=self.dead_letter_max_bytes + _HEADROOM,
                        delivery_timeout_ms=self._delivery_ms,
                        max_block_ms=self._delivery_ms,
                        allow_auto_create_topics=False,
                    )
                except kafka_errors.KafkaError as exc:
                    raise BusUnavailable(f"cannot reach Kafka at {self._where}: {exc}") from exc
            return self._producer

    @property
    def _where(self) -> str:
        return ",".join(self.bootstrap_servers)

    def ensure_topic(self, topic: str) -> None:
        """Create the topic and its dead-letter topic if missing, then wait for leaders."""
        if topic in self._ready_topics:
            return
        names = [topic] if _is_dead_letter(topic) else [topic, dead_letter_topic(topic)]
        specs = {
            name: {
                "num_partitions": self.settings.kafka_partitions,
                "replication_factor": self.settings.kafka_replication,
                "configs": {
                    "max.message.bytes": str(self._topic_limit(name) + _HEADROOM),
                    "min.insync.replicas": str(
                        min_insync_replicas(self.settings.kafka_replication)
                    ),
                },
            }
            for name in names
        }
        admin = self.admin()
        try:
            existing = set(admin.list_topics())
            missing = {name: spec for name, spec in specs.items() if name not in existing}
            if missing:
                result = admin.create_topics(missing, raise_errors=False)
                for created in result["topics"]:
                    error = kafka_errors.for_code(created["error_code"])
                    if error not in (kafka_errors.NoError, kafka_errors.TopicAlreadyExistsError):
                        raise error(created.get("error_message") or created["name"])
                admin.wait_for_topics(list(missing), timeout_ms=30_000)
                log.info("created topics %s", ", ".join(sorted(missing)))
        except kafka_errors.KafkaError as exc:
            raise BusUnavailable(f"cannot create topic {topic!r}: {exc!r}") from exc
        self._ready_topics.update(names)

    def _topic_limit(self, topic: str) -> int:
        return self.dead_letter_max_bytes if _is_dead_letter(topic) else self.max_message_bytes

    # -- producing

    def publish(
        self, topic: str, key: str | None, value: bytes, headers: Mapping[str, str] | None = None
    ) -> None:
        """Hand the message to the producer; raises BusUnavailable when earlier ones timed out.

        Those are queued again first, so nothing is dropped while the caller keeps running.
        """
        unreachable, _ = self._take_failures()
        if unreachable:
            self._requeue(unreachable)
            raise self._unavailable(unreachable)
        self._send(_Unsent(topic, key, value, dict(headers or {})))

    def flush(self) -> None:
        """Wait until every published message is acknowledged by all in-sync replicas.

        Messages that timed out are sent once more and waited for; messages the broker
        refused as too large are dead-lettered and waited for. Only what still fails
        after that raises BusUnavailable (and stays queued for the next flush).
        """
        for round_ in range(3):
            self._wait()
            unreachable, dead_lettered = self._take_failures()
            if unreachable:
                self._requeue(unreachable)
                if round_ == 2:
                    raise self._unavailable(unreachable)
            elif not dead_lettered:
                return
        self._wait()
        unreachable, _ = self._take_failures()
        if unreachable:
            self._requeue(unreachable)
            raise self._unavailable(unreachable)

    def _send(self, message: _Unsent) -> None:
        self.ensure_topic(message.topic)
        size = _size(message)
        limit = self._topic_limit(message.topic)
        if size > limit:
            if not _is_dead_letter(message.topic):
                self._dead_letter_oversized(message, "")
                return
            message = _truncated(message, limit)
        producer = self._producer_client()
        try:
            future = producer.send(
                message.topic,
                value=message.value,
                key=message.key.encode() if message.key is not None else None,
                headers=[(k, v.encode()) for k, v in message.headers.items()],
            )
        except kafka_errors.KafkaTimeoutError as exc:
            raise BusUnavailable(
                f"Kafka at {self._where} unreachable for {self._delivery_ms / 1000:.0f}s: {exc}"
            ) from exc
        future.add_errback(self._on_failure, message)

    def _on_failure(self, message: _Unsent, exc: Exception) -> None:
        """Runs on the producer's IO thread: remember the message, act on it in the caller's."""
        with self._lock:
            self._failed.append((message, exc))

    def _wait(self) -> None:
        if self._producer is None:
            return
        try:
            self._producer.flush(timeout=self._delivery_ms / 1000 + 5)
        except kafka_errors.KafkaTimeoutError as exc:
            raise BusUnavailable(f"flush to Kafka at {self._where} timed out: {exc}") from exc

    def _take_failures(self) -> tuple[list[tuple[_Unsent, Exception]], int]:
        """Dead-letter what the broker refused as too large; return the rest, and that count."""
        with self._lock:
            failed, self._failed = self._failed, []
        unreachable = []
        for message, exc in failed:
            if isinstance(exc, _TOO_LARGE) and not _is_dead_letter(message.topic):
                self._dead_letter_oversized(message, f"the broker refused it ({exc!r}): ")
            else:
                unreachable.append((message, exc))
        return unreachable, len(failed) - len(unreachable)

    def _requeue(self, unreachable: list[tuple[_Unsent, Exception]]) -> None:
        for position, (message, _exc) in enumerate(unreachable):
            try:
                self._send(message)
            except BusUnavailable:
                with self._lock:
                    self._failed[:0] = unreachable[position:]
                raise

    def _unavailable(self, unreachable: list[tuple[_Unsent, Exception]]) -> BusUnavailable:
        return BusUnavailable(
            f"{len(unreachable)} messages were not acknowledged by Kafka at {self._where}"
            f" within {self._delivery_ms / 1000:.0f}s ({unreachable[0][1]!r}); queued again"
        )

    def _dead_letter_oversized(self, message: _Unsent, prefix: str) -> None:
        reason = (
            f"{prefix}message of {_size(message)} bytes is over the"
            f" {self.max_message_bytes}-byte limit"
            " (NEWSAGG_KAFKA_MAX_MESSAGE_BYTES); not published"
        )
        log.error("%s key=%s: %s", message.topic, message.key, reason)
        never_stored = Message(
            topic=message.topic,
            partition=-1,
            offset=-1,
            key=message.key,
            value=message.value,
            headers=message.headers,
        )
        publish_dead_letter(self, never_stored, reason)

    # -- consuming and group administration

    def consumer(self, topic: str, group: str) -> KafkaBusConsumer:
        self.ensure_topic(topic)
        return KafkaBusConsumer(
            self._clients,
            topic,
            group,
            session_timeout=self.settings.kafka_session_timeout,
            lag=functools.partial(self.group_lag, topic, group),
        )

    def _partitions(self, topic: str) -> list[TopicPartition]:
        """The topic's partitions; none for a topic nobody has published to or consumed yet."""
        (described,) = self.admin().describe_topics([topic])
        error = kafka_errors.for_code(described["error_code"])
        if error is kafka_errors.UnknownTopicOrPartitionError:
            return []
        if error is not kafka_errors.NoError:
            raise error(topic)
        return [TopicPartition(topic, p["partition_index"]) for p in described["partitions"]]

    def _offsets(self, partitions: list[TopicPartition], spec: OffsetSpec) -> dict[int, int]:
        if not partitions:
            return {}
        found = self.admin().list_partition_offsets({tp: spec for tp in partitions})
        return {tp.partition: found[tp].offset for tp in partitions}

    def topic_size(self, topic: str) -> int:
        try:
            partitions = self._partitions(topic)
            first = self._offsets(partitions, OffsetSpec.EARLIEST)
            end = self._offsets(partitions, OffsetSpec.LATEST)
        except kafka_errors.KafkaError as exc:
            raise BusUnavailable(f"cannot read the size of {topic!r}: {exc!r}") from exc
        return sum(end[p] - first[p] for p in end)

    def group_lag(self, topic: str, group: str) -> dict[int, int]:
        """End offset minus committed offset (or the log start, for a partition never committed)."""
        try:
            partitions = self._partitions(topic)
            if not partitions:
                return {}
            committed = self._committed_offsets(group, partitions)
            first = self._offsets(partitions, OffsetSpec.EARLIEST)
            end = self._offsets(partitions, OffsetSpec.LATEST)
        except kafka_errors.KafkaError as exc:
            raise BusUnavailable(f"cannot read the lag of {group!r} on {topic!r}: {exc!r}") from exc
        lag = {}
        for tp in partitions:
            done = committed.get(tp)
            position = done.offset if done is not None and done.offset >= 0 else first[tp.partition]
            lag[tp.partition] = max(0, end[tp.partition] - max(position, first[tp.partition]))
        return lag

    def _committed_offsets(
        self, group: str, partitions: list[TopicPartition]
    ) -> Mapping[TopicPartition, OffsetAndMetadata]:
        """The group's committed offsets. A fresh broker answers "coordinator not available"
        until its offsets topic exists: that is "not yet", so it is retried for as long as a
        request may take, then reported."""
        deadline = time.monotonic() + self._request_ms / 1000
        while True:
            try:
                return self.admin().list_group_offsets({group: partitions}).get(group, {})
            except kafka_errors.KafkaError as exc:
                if not exc.retriable or time.monotonic() >= deadline:
                    raise
            time.sleep(0.2)

    def rewind(self, topic: str, group: str, since: datetime | None) -> dict[int, int]:
        """Commit, for the stopped group, the first offset at or after `since` on each partition.

        Offsets come from offsets_for_times (the broker's time index); a partition with
        nothing that recent is set to its end.
        """
        try:
            self._refuse_if_active(topic, group)
            partitions = self._partitions(topic)
            if not partitions:
                return {}
            end = self._offsets(partitions, OffsetSpec.LATEST)
            if since is None:
                target = self._offsets(partitions, OffsetSpec.EARLIEST)
            else:
                target = self._offsets_for_time(partitions, since, end)
            result = self.admin().alter_group_offsets(
                group, {tp: OffsetAndMetadata(target[tp.partition], "", -1) for tp in partitions}
            )
        except kafka_errors.KafkaError as exc:
            raise BusUnavailable(f"cannot rewind {group!r} on {topic!r}: {exc!r}") from exc
        refused = {tp.partition: e for tp, e in result.items() if e is not kafka_errors.NoError}
        if refused:
            raise GroupActive(
                f"Kafka refused to move {group!r} on {topic!r} ({refused}); is a member running?"
            )
        return self.group_lag(topic, group)

    def _refuse_if_active(self, topic: str, group: str) -> None:
        described = self.admin().describe_groups([group]).get(group, {})
        members = described.get("members") or []
        if members:
            hosts = sorted({m.get("client_host", "?") for m in members})
            raise GroupActive(
                f"group {group!r} has {len(members)} running member(s) on {', '.join(hosts)}"
                f" (state {described.get('group_state')}); stop the indexers first"
            )

    def _offsets_for_time(
        self, partitions: list[TopicPartition], since: datetime, end: dict[int, int]
    ) -> dict[int, int]:
        millis = int(since.astimezone(UTC).timestamp() * 1000)
        lookup = KafkaConsumer(**self.client_config(), enable_auto_commit=False)
        try:
            found = lookup.offsets_for_times({tp: max(0, millis) for tp in partitions})
        finally:
            lookup.close(autocommit=False)
        return {
            tp.partition: found[tp].offset if found.get(tp) is not None else end[tp.partition]
            for tp in partitions
        }

    def health(self) -> bool:
        try:
            self.admin().list_topics()
        except (BusUnavailable, kafka_errors.KafkaError):
            return False
        return True

    def close(self) -> None:
        """Flush what is buffered (bounded by the delivery timeout), then release the clients."""
        try:
            if self._producer is not None:
                self.flush()
        finally:
            if self._producer is not None:
                self._producer.close(timeout=5)
            if self._admin is not None:
                self._admin.close()
            with self._lock:
                lost = len(self._failed)
            if lost:
                log.error("closed with %d messages Kafka never acknowledged", lost)


def _size(message: _Unsent) -> int:
    key = len(message.key.encode()) if message.key is not None else 0
    headers = sum(len(k.encode()) + len(v.encode()) for k, v in message.headers.items())
    return key + len(message.value) + headers


def _truncated(message: _Unsent, limit: int) -> _Unsent:
    """A dead letter too large even for the dead-letter topic keeps its head and says so."""
    keep = max(0, limit - (_size(message) - len(message.value)))
    headers = {**message.headers, "value_truncated_from": str(len(message.value))}
    return _Unsent(message.topic, message.key, message.value[:keep], headers)
