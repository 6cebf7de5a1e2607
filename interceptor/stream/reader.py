"""Reading output topics back: how the demo proves every input record was accounted for."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from interceptor.envelope import HEADER_SRC_OFFSET, HEADER_SRC_PARTITION, HEADER_SRC_TOPIC
from interceptor.stream.convert import source_record

__all__ = ["OutputCensus", "census"]


@dataclass
class OutputCensus:
    """Which input offsets reached which output topics."""

    per_topic: Counter[str] = field(default_factory=Counter)
    sources: Counter[tuple[str, int, int]] = field(default_factory=Counter)

    def accounted(self, input_topics: Sequence[str]) -> int:
        """Distinct input records (topic, partition, offset) seen in the outputs."""
        return sum(1 for (topic, _, _) in self.sources if topic in input_topics)

    def duplicates(self) -> int:
        return sum(count - 1 for count in self.sources.values() if count > 1)


def census(
    config: dict[str, Any],
    topics: Sequence[str],
    *,
    expected: int,
    timeout_s: float = 60.0,
    quiet_s: float = 2.0,
) -> OutputCensus:
    """Read ``topics`` from the beginning until ``expected`` records were seen and the topics
    have been quiet for ``quiet_s``, or ``timeout_s`` passed.

    Counting by reading, not by watermarks: some brokers report the end offset as the start of
    the last batch.
    """
    consumer = Consumer(
        {
            **config,
            "group.id": f"interceptor-census-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    result = OutputCensus()
    seen = 0
    try:
        # Assign every partition directly: a group join costs seconds and nothing is committed.
        # Metadata for all topics, never for one by name (some brokers create it on the spot).
        metadata = consumer.list_topics(timeout=10)
        consumer.assign(
            [
                TopicPartition(topic, partition, OFFSET_BEGINNING)
                for topic in topics
                if topic in metadata.topics
                for partition in metadata.topics[topic].partitions
            ]
        )
        deadline = time.monotonic() + timeout_s
        last_new = time.monotonic()
        while time.monotonic() < deadline:
            messages = consumer.consume(10_000, 0.5)
            for message in messages:
                error = message.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        raise RuntimeError(f"census read failed: {error}")
                    continue
                record = source_record(message)
                seen += 1
                last_new = time.monotonic()
                result.per_topic[record.topic] += 1
                headers = dict(record.headers)
                if HEADER_SRC_TOPIC in headers:
                    result.sources[
                        (
                            headers[HEADER_SRC_TOPIC].decode(),
                            int(headers[HEADER_SRC_PARTITION]),
                            int(headers[HEADER_SRC_OFFSET]),
                        )
                    ] += 1
            if seen >= expected and time.monotonic() - last_new >= quiet_s:
                break
    finally:
        consumer.close()
    return result
