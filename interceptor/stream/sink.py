"""The output side: produce :class:`OutputRecord`s and learn which ones the broker refused.

Delivery reports are requested for errors only (``delivery.report.only.error``): a flush that
returns with nothing outstanding and no error report means every message was acknowledged, which
costs no Python call per message. An output the client refuses at once is traced back to its input
through the ``interceptor-src-*`` headers every routed output carries; a delivery report carries
no headers (confluent-kafka does not return them), so a failed delivery's input is unknown and
the settler treats the whole batch as undelivered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from interceptor.config import Settings
from interceptor.envelope import (
    HEADER_SRC_OFFSET,
    HEADER_SRC_PARTITION,
    HEADER_SRC_TOPIC,
    Destination,
    OutputRecord,
)
from interceptor.stream.clients import producer_config
from interceptor.stream.commits import TopicPartitionKey
from interceptor.stream.convert import headers_of

__all__ = ["DeliveryFailure", "OutputSink", "topic_map"]

log = logging.getLogger(__name__)

_FULL_QUEUE_WAIT_S: Final = 0.05


@dataclass(frozen=True, slots=True)
class DeliveryFailure:
    """An output the broker did not take, and the input it came from if known."""

    topic: str
    error: str
    source: tuple[TopicPartitionKey, int] | None
    code: int = KafkaError.UNKNOWN


def topic_map(settings: Settings) -> dict[Destination, str]:
    t = settings.topics
    return {
        "clean": t.clean,
        "quarantine": t.quarantine,
        "audit": t.audit,
        "deadletter": t.deadletter,
        "detector_state": t.detector_state,
    }


def _source_of(message: Message) -> tuple[TopicPartitionKey, int] | None:
    return _source_of_headers(dict(headers_of(message)))


def _source_of_headers(headers: dict[str, bytes]) -> tuple[TopicPartitionKey, int] | None:
    try:
        topic = headers[HEADER_SRC_TOPIC].decode()
        partition = int(headers[HEADER_SRC_PARTITION])
        offset = int(headers[HEADER_SRC_OFFSET])
    except (KeyError, ValueError, UnicodeDecodeError):
        return None
    return (topic, partition), offset


class OutputSink:
    """One idempotent (optionally transactional) producer for the four output topics."""

    def __init__(
        self,
        settings: Settings,
        *,
        transactional: bool = False,
        on_error: Callable[[KafkaError], None] | None = None,
    ) -> None:
        self._topics = topic_map(settings)
        self._on_error = on_error
        self.transactional = transactional
        self.failures: list[DeliveryFailure] = []
        self.fatal: KafkaError | None = None
        self.produced: dict[str, int] = dict.fromkeys(self._topics, 0)
        self._producer = Producer(
            producer_config(
                settings,
                error_cb=self._client_error,
                on_delivery=self._delivery_failed,
                transactional=transactional,
            )
        )
        self._in_txn = False

    @property
    def producer(self) -> Producer:
        return self._producer

    def _client_error(self, error: KafkaError) -> None:
        if error.fatal():
            self.fatal = error
        if self._on_error is not None:
            self._on_error(error)

    def _delivery_failed(self, error: KafkaError | None, message: Message) -> None:
        if error is None:
            return
        failure = DeliveryFailure(
            str(message.topic()), str(error), _source_of(message), error.code()
        )
        if not self.failures:  # one line per outage, not one per message (the settler counts)
            log.warning("output to %s not delivered: %s", failure.topic, failure.error)
        self.failures.append(failure)
        if self._on_error is not None:
            self._on_error(error)

    def _refused(self, topic: str, out: OutputRecord, exc: KafkaException) -> None:
        source = _source_of_headers(dict(out.headers))
        error = exc.args[0] if exc.args else None
        code = error.code() if isinstance(error, KafkaError) else KafkaError.UNKNOWN
        self.failures.append(DeliveryFailure(topic, str(exc), source, code))
        log.warning("output to %s refused by the client: %s", topic, exc)
        if self._on_error is not None and isinstance(exc.args[0], KafkaError):
            self._on_error(exc.args[0])

    def begin(self) -> None:
        """Open a transaction unless one is open (exactly-once only)."""
        if self.transactional and not self._in_txn:
            self._producer.begin_transaction()
            self._in_txn = True

    @property
    def in_transaction(self) -> bool:
        return self._in_txn

    def init(self, timeout_s: float = 30.0) -> None:
        if self.transactional:
            self._producer.init_transactions(timeout_s)

    def send(self, outputs: Iterable[OutputRecord]) -> int:
        """Queue outputs for delivery; waits (serving reports) while the local queue is full."""
        self.begin()
        produce = self._producer.produce
        topics = self._topics
        counts = self.produced
        n = 0
        for out in outputs:
            topic = topics[out.destination]
            headers: list[tuple[str, str | bytes | None]] = list(out.headers)
            while True:
                try:
                    produce(topic, out.value, out.key, headers=headers)
                    break
                except BufferError:
                    self._producer.poll(_FULL_QUEUE_WAIT_S)
                except KafkaException as exc:  # refused locally (e.g. too large): as if undelivered
                    self._refused(topic, out, exc)
                    break
            counts[out.destination] += 1
            n += 1
        return n

    def wait(self, timeout_s: float, *, on_waiting: Callable[[int], bool] | None = None) -> int:
        """Flush until nothing is outstanding or ``timeout_s`` passed; return what is left.

        ``on_waiting(outstanding)`` is called about once a second while the broker is slow; it
        returns False to give up early (on shutdown).
        """
        deadline = time.monotonic() + timeout_s
        while True:
            left = int(self._producer.flush(min(1.0, max(deadline - time.monotonic(), 0.0))))
            if left == 0 or time.monotonic() >= deadline:
                return left
            if on_waiting is not None and not on_waiting(left):
                return left

    def take_failures(self) -> list[DeliveryFailure]:
        failures, self.failures = self.failures, []
        return failures

    def send_offsets(
        self, offsets: list[Any], group_metadata: Any, timeout_s: float = 30.0
    ) -> None:
        """Add consumer offsets to the open transaction (exactly-once)."""
        if not self._in_txn:
            self.begin()
        if offsets:
            self._producer.send_offsets_to_transaction(offsets, group_metadata, timeout_s)

    def commit_transaction(self, timeout_s: float = 30.0) -> None:
        """Commit the open transaction; a retriable error may be answered by calling again."""
        if not self._in_txn:
            self.begin()
        self._producer.commit_transaction(timeout_s)
        self._in_txn = False

    def abort_transaction(self, timeout_s: float = 30.0) -> None:
        if self._in_txn:
            self._producer.abort_transaction(timeout_s)
            self._in_txn = False
        self.failures.clear()

    def discard(self) -> None:
        """Drop a producer that hit a fatal error: purge what it holds; no flush, no close.

        ``Producer.close()`` would try to abort the transaction and flush first, which blocks on a
        fenced producer; the client is destroyed when the sink is garbage-collected instead. Its
        open transaction, if any, is aborted by the broker when the next producer with the same
        ``transactional.id`` initialises (or when the transaction times out).
        """
        self._in_txn = False
        try:
            self._producer.purge()
            self._producer.flush(0)
        except Exception:  # the client is beyond use anyway
            log.debug("purging a failed producer", exc_info=True)
        self.failures.clear()

    def close(self, timeout_s: float = 10.0) -> int:
        if self._in_txn:
            try:
                self.abort_transaction(timeout_s)
            except Exception:  # closing anyway: uncommitted outputs are redone after restart
                log.exception("could not abort the open transaction")
        left = int(self._producer.flush(timeout_s))
        # Release the client now: a producer left to the garbage collector keeps reconnecting
        # (and logging) after its broker is gone.
        self._producer.close()
        return left
