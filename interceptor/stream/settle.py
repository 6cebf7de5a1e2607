"""Making a batch durable before its offsets count as processed.

At-least-once: after a batch's outputs are produced, the producer is flushed until every delivery
is settled; offsets are then committed per partition up to the first input with an undelivered
output, and that partition is sought back to it, so a failed output becomes a duplicate, never a
loss. A producer whose deliveries fail for reasons of its own identity (fenced, epoch or
sequence errors: the broker will refuse it from now on) or that hit a fatal error is replaced
before the batch is redone.

Exactly-once: the outputs and the offsets are committed in one Kafka transaction. librdkafka
classifies a failed transaction call: a retriable error is answered by calling again, an
abortable one by aborting the transaction and seeking every partition of the batch back to its
committed offset (the batch is consumed and decided again), and a fatal one (a fenced producer
among them) by discarding the producer, creating a new one with the same ``transactional.id``
(which fences any zombie of it and aborts its open transaction) and rewinding the same way.
Producers that keep being replaced (four times within a minute) stop the loop: exactly-once, two
live instances probably share a ``transactional.id``.

Outputs that belong to no input (state-topic tombstones and audit events, policy reload events)
are "side" outputs: they travel with the next batch and are re-sent if their delivery fails.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Final

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from interceptor.envelope import OutputRecord
from interceptor.errors import InterceptorError
from interceptor.stream.commits import CommitTracker, TopicPartitionKey
from interceptor.stream.sink import OutputSink

__all__ = ["SettleError", "Settler"]

log = logging.getLogger(__name__)

#: More producer restarts than this within the window: something else holds our transactional.id.
_MAX_RESTARTS: Final = 3
_RESTART_WINDOW_S: Final = 60.0
_FENCED_CODES: Final = frozenset(
    {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}
)
#: Delivery errors after which the broker will not take anything more from this producer.
_UNUSABLE_PRODUCER_CODES: Final = _FENCED_CODES | {
    KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
    KafkaError.UNKNOWN_PRODUCER_ID,
    KafkaError._GAPLESS_GUARANTEE,
}


class SettleError(InterceptorError, RuntimeError):
    """A transaction failed in a way only a restart can fix; nothing uncommitted is lost."""


class Settler:
    """Owns the commit tracker and decides, batch by batch, what is durable."""

    def __init__(
        self,
        sink: OutputSink,
        *,
        exactly_once: bool,
        commit_interval_s: float,
        on_waiting: Callable[[int], bool],
        on_committed: Callable[[], None],
        on_error: Callable[[KafkaError], None],
        new_sink: Callable[[], OutputSink] | None = None,
        on_producer_restart: Callable[[], None] | None = None,
    ) -> None:
        self.sink = sink
        self._new_sink = new_sink
        self._on_producer_restart = on_producer_restart
        self._restarts: deque[float] = deque(maxlen=_MAX_RESTARTS)
        self._broken: KafkaError | None = None  # a transaction call failed while sending
        self.exactly_once = exactly_once
        self.consumer: Consumer | None = None  # set once subscribed; commits and seeks need it
        self.tracker = CommitTracker()
        self.rewinds = 0
        self._interval = commit_interval_s
        self._on_waiting = on_waiting
        self._on_committed = on_committed
        self._on_error = on_error
        self._side: list[OutputRecord] = []
        self._batch_first: dict[TopicPartitionKey, int] = {}
        self._last_commit = 0.0

    @property
    def has_side(self) -> bool:
        return bool(self._side)

    @property
    def has_pending(self) -> bool:
        return bool(self._side) or self.tracker.has_pending

    def send_side(self, outputs: list[OutputRecord]) -> None:
        """Produce outputs that belong to no input; they are settled with the next batch."""
        if outputs:
            self._side.extend(outputs)
            self._send(outputs)

    def send(self, outputs: list[OutputRecord]) -> None:
        """Hand a batch's outputs to the producer."""
        self._send(outputs)

    def _send(self, outputs: list[OutputRecord]) -> None:
        if not self.exactly_once:
            self.sink.send(outputs)
            return
        if self._broken is not None:
            return  # the transaction is lost already; settle() aborts it and redoes the batch
        try:
            self.sink.send(outputs)  # opens the transaction, which can fail
        except KafkaException as exc:
            self._broken = _error_of(exc)
            self._on_error(self._broken)
            log.warning("transaction cannot take outputs: %s", self._broken)

    def begin_batch(self, by_partition: Mapping[TopicPartitionKey, list[int]]) -> None:
        """Register a consumed batch (offsets in consumption order per partition)."""
        self._batch_first = {tp: offsets[0] for tp, offsets in by_partition.items()}
        for tp, offsets in by_partition.items():
            self.tracker.add_many(tp, offsets)

    def abandon(self, by_partition: Mapping[TopicPartitionKey, list[int]]) -> None:
        """The batch could not be decided or sent: nothing from its first offset on may be
        committed, whatever happens to the outputs already handed to the producer."""
        for tp, offsets in by_partition.items():
            self.tracker.fail(tp, offsets[0])

    def settle(self, partitions: list[TopicPartitionKey]) -> bool:
        """Make the current batch durable; False means it will be consumed again."""
        if self.exactly_once:
            return self._settle_transaction(partitions)
        left = self.sink.wait(float("inf"), on_waiting=self._on_waiting)
        failures = self.sink.take_failures()
        if failures:
            log.warning(
                "%d outputs not delivered; their inputs will be consumed again", len(failures)
            )
        unusable = [f.error for f in failures if f.code in _UNUSABLE_PRODUCER_CODES]
        if self.sink.fatal is not None or unusable:
            self._replace_sink(str(self.sink.fatal) if self.sink.fatal is not None else unusable[0])
        side_failed = False
        for failure in failures:
            src = failure.source
            if src is None:
                # Delivery reports carry no headers, so the input is unknown: nothing of the
                # batch may count as delivered (its first offsets pin every partition).
                side_failed = True
                for tp, first in self._batch_first.items():
                    if tp in partitions:
                        self.tracker.fail(tp, first)
            elif src[0] in self._batch_first:
                self.tracker.fail(*src)
            else:
                side_failed = True
        if left:  # gave up waiting (shutdown): nothing of this batch may be committed
            for tp in partitions:
                self.tracker.fail_partition(tp)
        else:
            self.tracker.ack_all()
        side, self._side = self._side, []
        if side_failed or left:
            self._resend(side)
        self.commit(force=bool(failures) or left > 0)
        if self.tracker.has_failures:
            self._rewind(self.tracker.rewind())
            return False
        return left == 0 and not failures

    def _settle_transaction(self, partitions: list[TopicPartitionKey]) -> bool:
        broken, self._broken = self._broken, None
        if broken is not None:
            return self._recover(broken, partitions)
        if self.sink.fatal is not None:
            return self._recover(self.sink.fatal, partitions)
        if not self.sink.in_transaction:
            return True
        refused = self.sink.take_failures()
        if refused:  # the producer refused an output locally: committing would lose its input
            log.warning(
                "%d outputs refused (first: %s); aborting the transaction",
                len(refused),
                refused[0].error,
            )
            return self._abort(partitions)
        self.tracker.ack_all()
        offsets = self.tracker.committable(partitions)
        tps = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        consumer = self.consumer
        try:
            metadata = consumer.consumer_group_metadata() if tps and consumer is not None else None
            self._retrying(lambda: self.sink.send_offsets(tps if metadata else [], metadata))
            self._retrying(self.sink.commit_transaction)
        except KafkaException as exc:
            return self._recover(_error_of(exc), partitions)
        self._side = []
        self.tracker.committed(offsets)
        self._on_committed()
        return True

    def _retrying(self, call: Callable[[], None]) -> None:
        """Call, and call again while librdkafka says the error is retriable (and we may wait)."""
        while True:
            try:
                call()
                return
            except KafkaException as exc:
                error = _error_of(exc)
                self._on_error(error)
                if error.fatal() or error.txn_requires_abort() or not error.retriable():
                    raise
                log.warning("transaction call failed, retrying: %s", error)
                if not self._on_waiting(1):
                    raise

    def _recover(self, error: KafkaError, partitions: list[TopicPartitionKey]) -> bool:
        """A transaction failed: abort and rewind, or replace the producer if it is unusable."""
        if error.fatal() or self.sink.fatal is not None or _fenced(error):
            return self._restart_producer(error, partitions)
        log.warning("transaction failed, aborting and consuming the batch again: %s", error)
        return self._abort(partitions)

    def _abort(self, partitions: list[TopicPartitionKey]) -> bool:
        """Abort the open transaction and consume the batch again from its committed offsets."""
        try:
            self._retrying(self.sink.abort_transaction)
        except KafkaException as exc:
            error = _error_of(exc)
            if error.fatal() or _fenced(error) or self._new_sink is not None:
                return self._restart_producer(error, partitions)
            raise SettleError(f"cannot abort the transaction: {error}") from exc
        self._rewind_batch(partitions)
        side, self._side = self._side, []
        self._resend(side)
        return False

    def _restart_producer(self, error: KafkaError, partitions: list[TopicPartitionKey]) -> bool:
        """Discard the producer, start a new one with the same transactional.id, redo the batch."""
        self._replace_sink(str(error))
        self._rewind_batch(partitions)
        side, self._side = self._side, []
        self._resend(side)
        return False

    def _replace_sink(self, reason: str) -> None:
        """Discard the producer and start a new one (exactly-once: same transactional.id)."""
        if self._new_sink is None:
            raise SettleError(f"the producer is unusable: {reason}")
        now = time.monotonic()
        if len(self._restarts) == _MAX_RESTARTS and now - self._restarts[0] < _RESTART_WINDOW_S:
            hint = "; is another live instance using the same kafka.transactional_id?"
            raise SettleError(
                f"the producer failed {_MAX_RESTARTS + 1} times within "
                f"{_RESTART_WINDOW_S:.0f}s (last: {reason}){hint if self.exactly_once else ''}"
            )
        self._restarts.append(now)
        log.error("producer unusable (%s); replacing it", reason)
        self.sink.discard()
        while True:
            try:
                self.sink = self._new_sink()
                break
            except KafkaException as exc:  # init_transactions: the broker may be away
                self._on_error(_error_of(exc))
                log.warning("cannot start a producer yet: %s", exc)
                if not self._on_waiting(1):
                    raise SettleError(f"no producer: {exc}") from exc
        if self._on_producer_restart is not None:
            self._on_producer_restart()

    def _rewind_batch(self, partitions: list[TopicPartitionKey]) -> None:
        """Seek the batch's partitions back to their committed offsets (exactly-once: where the
        batch began, since every batch commits or aborts as a whole)."""
        self._rewind({tp: self._batch_first[tp] for tp in partitions if tp in self._batch_first})

    def _resend(self, side: list[OutputRecord]) -> None:
        if side:
            log.warning("re-sending %d state/policy outputs after a failed delivery", len(side))
            self.send_side(side)

    def _rewind(self, seeks: dict[TopicPartitionKey, int]) -> None:
        for (topic, partition), offset in seeks.items():
            self.tracker.reset((topic, partition), offset)
            if self.consumer is None:
                continue
            try:
                self.consumer.seek(TopicPartition(topic, partition, offset))
            except KafkaException as exc:  # revoked meanwhile: the new owner resumes from commit
                log.warning("cannot seek %s[%d] to %d: %s", topic, partition, offset, exc)
            log.warning("consuming %s[%d] again from offset %d", topic, partition, offset)
        if seeks:
            self.rewinds += 1

    def commit(self, *, force: bool = False, sync: bool = False) -> None:
        """Commit what is safe (at-least-once; every ``commit_interval_ms`` unless forced)."""
        if self.exactly_once or self.consumer is None:
            return
        if not force and not sync and time.monotonic() - self._last_commit < self._interval:
            return
        offsets = self.tracker.committable()
        if not offsets:
            return
        tps = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        try:
            if sync:
                result = self.consumer.commit(offsets=tps, asynchronous=False)
                done = {
                    (tp.topic, tp.partition): tp.offset for tp in result or [] if tp.error is None
                }
                self.tracker.committed(done)
                if done:
                    self._on_committed()  # on_commit() is called for asynchronous commits only
            else:
                self.consumer.commit(offsets=tps, asynchronous=True)
                self.tracker.committed(offsets)  # optimistic; on_commit() takes it back on failure
        except KafkaException as exc:
            self._on_error(exc.args[0])
            log.warning("offset commit failed (will retry): %s", exc)
            self.tracker.commit_failed(offsets)
        self._last_commit = time.monotonic()

    def on_commit(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        """The consumer's ``on_commit`` callback (asynchronous commits)."""
        failed = [(tp.topic, tp.partition) for tp in partitions if tp.error is not None]
        if error is not None or failed:
            if error is not None:
                self._on_error(error)
            self.tracker.commit_failed(failed or [(tp.topic, tp.partition) for tp in partitions])
            return
        self._on_committed()

    def revoke(self, partitions: list[TopicPartitionKey]) -> None:
        """Partitions are leaving: settle and commit synchronously, then forget them."""
        if not self.exactly_once and self.tracker.has_pending:
            self.settle(partitions)
        self.commit(sync=True)
        self.tracker.revoke(partitions)

    def lost(self, partitions: list[TopicPartitionKey]) -> None:
        """Partitions were taken without a revocation: nothing may be committed for them."""
        self.tracker.revoke(partitions)

    def finish(self) -> None:
        """At shutdown: settle whatever is outstanding and commit synchronously."""
        if self.has_pending:
            self.settle(self.tracker.partitions())
        self.commit(sync=True)


def _error_of(exc: KafkaException) -> KafkaError:
    error = exc.args[0] if exc.args else None
    if isinstance(error, KafkaError):
        return error
    return KafkaError(KafkaError._FAIL, str(exc))


def _fenced(error: KafkaError) -> bool:
    """Another producer took over our transactional.id (or epoch): this one is a zombie."""
    return error.code() in _FENCED_CODES
