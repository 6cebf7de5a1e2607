"""Broker messages to :class:`~interceptor.envelope.SourceRecord` and back, nothing else."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, KafkaError, Message

from interceptor.envelope import Header, SourceRecord
from interceptor.stream.commits import TopicPartitionKey

__all__ = ["headers_of", "source_batch", "source_record"]


def headers_of(message: Message) -> tuple[Header, ...]:
    """Message headers as a tuple; a null header value becomes ``b""`` (the envelope type)."""
    raw = message.headers()
    if not raw:
        return ()
    pairs = raw.items() if isinstance(raw, dict) else raw
    return tuple((name, _as_bytes(value)) for name, value in pairs)


def _as_bytes(value: str | bytes | None) -> bytes:
    if value is None:
        return b""
    return value.encode("utf-8") if isinstance(value, str) else value


def source_record(message: Message) -> SourceRecord:
    """The pure pipeline's view of one consumed message (``message.error()`` must be None)."""
    kind, ts = message.timestamp()
    return SourceRecord(
        topic=cast(str, message.topic()),
        partition=cast(int, message.partition()),
        offset=cast(int, message.offset()),
        key=message.key(),
        value=message.value(),
        headers=headers_of(message),
        timestamp_ms=None if kind == TIMESTAMP_NOT_AVAILABLE else ts,
    )


def source_batch(
    messages: list[Message], on_error: Callable[[KafkaError, Message], None]
) -> tuple[list[SourceRecord], dict[TopicPartitionKey, list[int]]]:
    """Records of a consumed batch and their offsets by partition; errors go to ``on_error``.

    The hot path of the loop: one pass, no per-message helper calls beyond the C accessors.
    """
    records: list[SourceRecord] = []
    by_partition: dict[TopicPartitionKey, list[int]] = {}
    last_tp: TopicPartitionKey | None = None
    offsets: list[int] = []
    append = records.append
    for message in messages:
        error = message.error()
        if error is not None:
            on_error(error, message)
            continue
        topic = cast(str, message.topic())
        partition = cast(int, message.partition())
        offset = cast(int, message.offset())
        raw = message.headers()
        kind, ts = message.timestamp()
        append(
            SourceRecord(
                topic,
                partition,
                offset,
                message.key(),
                message.value(),
                headers_of(message) if raw else (),
                None if kind == TIMESTAMP_NOT_AVAILABLE else ts,
            )
        )
        tp = (topic, partition)
        if tp != last_tp:
            offsets = by_partition.setdefault(tp, [])
            last_tp = tp
        offsets.append(offset)
    return records, by_partition
