"""KafkaBusConsumer: one member of a Kafka consumer group; offsets move only on commit().

Partitions are shared out by the group coordinator; when they move (a member joins,
leaves or dies) the new owner starts from the last commit, so a batch handed out
but not committed is delivered again there: at least once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from kafka import KafkaConsumer, TopicPartition
from kafka import errors as kafka_errors
from kafka.consumer.fetcher import ConsumerRecord
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.structs import OffsetAndMetadata
from newsagg.core.adapters.kafka_common import KafkaClientConfig, log
from newsagg.core.ports import BusUnavailable, Message

_REASSIGNED = (
    kafka_errors.CommitFailedError,
    kafka_errors.IllegalGenerationError,
    kafka_errors.UnknownMemberIdError,
    kafka_errors.RebalanceInProgressError,
)


class _CommitOnRevoke(ConsumerRebalanceListener):
    """Before partitions move to another member, commit what the caller finished on them."""

    def __init__(self, owner: KafkaBusConsumer) -> None:
        self.owner = owner

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.owner.hand_over(revoked)

    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("assigned %s", sorted(tp.partition for tp in assigned))


class KafkaBusConsumer:
    """One member of a consumer group on one topic; offsets move only on commit()."""

    def __init__(
        self,
        clients: KafkaClientConfig,
        topic: str,
        group: str,
        *,
        session_timeout: float,
        lag: Callable[[], dict[int, int]],
    ) -> None:
        self.topic = topic
        self.group = group
        self._group_lag = lag
        session_ms = int(session_timeout * 1000)
        self._committed: dict[TopicPartition, int] = {}  # what this member committed
        self._pending: dict[TopicPartition, int] = {}  # done, but the commit did not get through
        try:
            self._kafka = KafkaConsumer(
                **clients.kwargs(),
                group_id=group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                allow_auto_create_topics=False,
                session_timeout_ms=session_ms,
                heartbeat_interval_ms=max(500, session_ms // 4),
                max_poll_interval_ms=300_000,
                fetch_max_wait_ms=250,
            )
            self._kafka.subscribe([topic], listener=_CommitOnRevoke(self))
        except kafka_errors.KafkaError as exc:
            raise BusUnavailable(f"cannot join {group!r} on {topic!r}: {exc!r}") from exc

    def poll(self, max_messages: int, timeout: float) -> list[Message]:
        try:
            batches = self._kafka.poll(timeout_ms=int(timeout * 1000), max_records=max_messages)
        except kafka_errors.KafkaError as exc:
            raise BusUnavailable(f"cannot poll {self.topic!r}: {exc!r}") from exc
        return [_message(record) for records in batches.values() for record in records]

    def commit(self, messages: Sequence[Message]) -> None:
        """Commit the offset after the last message per partition; never backwards."""
        offsets: dict[TopicPartition, int] = {}
        for message in messages:
            tp = TopicPartition(message.topic, message.partition)
            offsets[tp] = max(offsets.get(tp, 0), message.offset + 1)
        offsets = {tp: o for tp, o in offsets.items() if o > self._committed.get(tp, -1)}
        if not offsets:
            return
        self._pending.update(offsets)
        try:
            self._kafka.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()})
        except _REASSIGNED as exc:
            # The group moved these partitions on; their new owner re-reads from the last
            # commit. At least once: this batch is delivered again there.
            log.warning("partitions of %r were reassigned before the commit: %r", self.group, exc)
            for tp in offsets:
                self._pending.pop(tp, None)
            return
        except kafka_errors.KafkaError as exc:
            raise BusUnavailable(f"cannot commit to {self.group!r}: {exc!r}") from exc
        for tp, offset in offsets.items():
            self._committed[tp] = offset
            if self._pending.get(tp) == offset:
                del self._pending[tp]

    def hand_over(self, revoked: set[TopicPartition]) -> None:
        """Called on the consumer's IO thread when partitions are revoked: never block it."""
        finished = {tp: self._pending.pop(tp) for tp in revoked if tp in self._pending}
        if finished:
            try:
                self._kafka.commit_async(
                    {tp: OffsetAndMetadata(o, "", -1) for tp, o in finished.items()}
                )
            except kafka_errors.KafkaError as exc:  # the new owner re-reads them: at least once
                log.warning("could not commit %s before handing them over: %r", finished, exc)
        for tp in revoked:
            self._committed.pop(tp, None)

    def lag(self) -> dict[int, int]:
        """The group's lag on every partition of the topic, not just this member's."""
        return self._group_lag()

    def close(self) -> None:
        """Leave the group without committing, so another member takes over at once."""
        try:
            self._kafka.close(autocommit=False, timeout_ms=5000)
        except kafka_errors.KafkaError as exc:
            log.warning("leaving %r uncleanly: %r", self.group, exc)


def _message(record: ConsumerRecord) -> Message:
    """Kafka headers are bytes; the port's are text (we only ever write UTF-8)."""
    return Message(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key.decode() if record.key is not None else None,
        value=bytes(record.value or b""),
        headers={k: v.decode(errors="replace") for k, v in record.headers or []},
        timestamp=datetime.fromtimestamp(record.timestamp / 1000, UTC),
    )
