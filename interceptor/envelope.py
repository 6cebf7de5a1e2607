"""Kafka-shaped records without Kafka: what the pure pipeline reads and writes.

The stream layer turns broker messages into :class:`SourceRecord` and :class:`OutputRecord` back
into produce calls; nothing here imports a Kafka client, so the pipeline runs in tests and batch
jobs unchanged.
"""

from __future__ import annotations

from typing import Final, Literal, NamedTuple

__all__ = [
    "Destination",
    "Header",
    "HEADER_DECISION",
    "HEADER_ERROR",
    "HEADER_POLICY",
    "HEADER_RULES",
    "HEADER_SRC_OFFSET",
    "HEADER_SRC_PARTITION",
    "HEADER_SRC_TOPIC",
    "OutputRecord",
    "SourceRecord",
]

Destination = Literal["clean", "quarantine", "audit", "deadletter", "detector_state"]
Header = tuple[str, bytes]

HEADER_SRC_TOPIC: Final = "interceptor-src-topic"
HEADER_SRC_PARTITION: Final = "interceptor-src-partition"
HEADER_SRC_OFFSET: Final = "interceptor-src-offset"
HEADER_DECISION: Final = "interceptor-decision"
HEADER_RULES: Final = "interceptor-rules"
HEADER_POLICY: Final = "interceptor-policy"
HEADER_ERROR: Final = "interceptor-error"


class SourceRecord(NamedTuple):
    """One consumed message, exactly as the broker gave it.

    Named tuples rather than frozen dataclasses: as immutable, and several times cheaper to build,
    which matters at one or two per record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...] = ()
    timestamp_ms: int | None = None


class OutputRecord(NamedTuple):
    """One message to produce; ``destination`` is mapped to a topic name by the stream layer."""

    destination: Destination
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...]
