"""Broker messages to :class:`~interceptor.envelope.SourceRecord` and back, nothing else."""

from __future__ import annotations

from typing import cast

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Message

from interceptor.envelope import Header, SourceRecord

__all__ = ["headers_of", "source_record"]


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
