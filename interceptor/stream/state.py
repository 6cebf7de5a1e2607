"""Compacted state topics (consent, transformation registry) read whole, then kept current.

Every instance reads every partition from the beginning, without a consumer group, before it
decides a single record: deciding with half the opt-outs loaded would be a compliance failure.
"Caught up" needs, per partition, an end-of-partition event at or past the last message read and a
position at or past the high watermark, then a short quiet period. The watermark alone is not
trusted: some brokers (the embedded one among them) report the start of the last batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final, cast

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from interceptor.config import Settings
from interceptor.envelope import OutputRecord, SourceRecord
from interceptor.errors import InterceptorError
from interceptor.stream.clients import state_consumer_config
from interceptor.stream.convert import source_record

__all__ = ["StateHandler", "StateLoadTimeoutError", "StateTopicReader"]

log = logging.getLogger(__name__)

#: Applies one state message and returns the outputs it causes (tombstones, audit events).
StateHandler = Callable[[SourceRecord], list[OutputRecord]]

_POLL_BATCH: Final = 1000


class StateLoadTimeoutError(InterceptorError, TimeoutError):
    """A state topic could not be read to its end in time."""


class StateTopicReader:
    """One compacted topic, every partition, from the beginning; messages go to ``handler``."""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        handler: StateHandler,
        *,
        quiet_s: float = 0.25,
        on_applied: Callable[[int], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.topic = topic
        self._settings = settings
        self._handler = handler
        self._quiet_s = quiet_s
        self._on_applied = on_applied
        self._on_error = on_error
        self._consumer: Consumer | None = None
        self._partitions: list[int] = []
        self._high: dict[int, int] = {}
        self._next: dict[int, int] = {}  # next offset to read, per partition
        self._eof: set[int] = set()
        self._last_message = 0.0
        self._caught_up = False
        self.applied = 0

    @property
    def caught_up(self) -> bool:
        return self._caught_up

    def _open(self) -> Consumer:
        if self._consumer is not None:
            return self._consumer
        config = state_consumer_config(self._settings, self.topic)
        config.setdefault("fetch.wait.max.ms", 50)
        consumer = Consumer(config)
        metadata = consumer.list_topics(timeout=10)  # all topics: asking for one may create it
        topic = metadata.topics.get(self.topic)
        if topic is None or topic.error is not None:
            log.warning("state topic %s does not exist; starting with no state from it", self.topic)
            self._partitions = []
        else:
            self._partitions = sorted(topic.partitions)
        for p in self._partitions:
            try:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(self.topic, p), timeout=10
                )
            except KafkaException:
                low, high = 0, 0
            self._high[p] = high
            self._next[p] = low
        consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in self._partitions])
        self._consumer = consumer
        self._last_message = time.monotonic()
        return consumer

    def load(
        self, timeout_s: float, should_stop: Callable[[], bool] | None = None
    ) -> list[OutputRecord]:
        """Read until caught up; return the outputs the handler produced on the way."""
        self._open()
        outputs: list[OutputRecord] = []
        deadline = time.monotonic() + timeout_s
        while not self._caught_up:
            if should_stop is not None and should_stop():
                break
            if time.monotonic() > deadline:
                raise StateLoadTimeoutError(
                    f"state topic {self.topic} not read to its end within {timeout_s:.0f}s "
                    f"({self.applied} messages so far)"
                )
            outputs.extend(self._consume(0.1))
        if self._caught_up:
            log.info("state topic %s loaded: %d messages", self.topic, self.applied)
        return outputs

    def poll(self) -> list[OutputRecord]:
        """Apply whatever has arrived since the last call, without waiting."""
        self._open()
        return self._consume(0.0)

    def _consume(self, timeout_s: float) -> list[OutputRecord]:
        assert self._consumer is not None
        outputs: list[OutputRecord] = []
        applied = 0
        if self._partitions:
            for message in self._consumer.consume(_POLL_BATCH, timeout_s):
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        eof_partition = cast(int, message.partition())
                        if cast(int, message.offset()) >= self._next.get(eof_partition, 0):
                            self._eof.add(eof_partition)
                    else:
                        self._report(f"{self.topic}: {error}", error.name())
                    continue
                partition = cast(int, message.partition())
                offset = cast(int, message.offset())
                self._next[partition] = offset + 1
                self._eof.discard(partition)
                self._last_message = time.monotonic()
                try:
                    outputs.extend(self._handler(source_record(message)))
                except Exception:  # a bad state message must not stop the interceptor
                    log.exception(
                        "state message %s[%d]@%d could not be applied",
                        self.topic,
                        partition,
                        offset,
                    )
                    self._report("handler", "state_handler")
                applied += 1
        self.applied += applied
        if applied and self._on_applied is not None:
            self._on_applied(applied)
        if not self._caught_up:
            self._caught_up = self._at_end()
        return outputs

    def _at_end(self) -> bool:
        if time.monotonic() - self._last_message < self._quiet_s:
            return False
        return all(
            p in self._eof and self._next.get(p, 0) >= self._high.get(p, 0)
            for p in self._partitions
        )

    def _report(self, text: str, kind: str) -> None:
        log.warning("state reader: %s", text)
        if self._on_error is not None:
            self._on_error(kind)

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
