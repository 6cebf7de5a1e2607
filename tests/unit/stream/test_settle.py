"""The settler never commits a batch whose outputs were not all handed over and acknowledged.

The sink and consumer here are stand-ins: the fault injected (an exception between consuming a
batch and producing its outputs) is one a real broker cannot produce on demand.
"""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import TopicPartition

from interceptor.stream.settle import SettleError, Settler


class RecordingConsumer:
    def __init__(self) -> None:
        self.commits: list[dict[tuple[str, int], int]] = []
        self.seeks: list[tuple[str, int, int]] = []

    def commit(self, *, offsets: list[TopicPartition], asynchronous: bool) -> list[TopicPartition]:
        self.commits.append({(tp.topic, tp.partition): tp.offset for tp in offsets})
        return offsets

    def seek(self, tp: TopicPartition) -> None:
        self.seeks.append((tp.topic, tp.partition, tp.offset))


class QuietSink:
    """Every output handed over is acknowledged at once."""

    in_transaction = False
    fatal = None

    def send(self, outputs: list[Any]) -> None:
        pass

    def wait(self, timeout_s: float, on_waiting: Any = None) -> int:
        return 0

    def take_failures(self) -> list[Any]:
        return []


def settler() -> tuple[Settler, RecordingConsumer]:
    consumer = RecordingConsumer()
    s = Settler(
        QuietSink(),  # type: ignore[arg-type]
        exactly_once=False,
        commit_interval_s=0.0,
        on_waiting=lambda _n: True,
        on_committed=lambda: None,
        on_error=lambda _e: None,
    )
    s.consumer = consumer  # type: ignore[assignment]
    return s, consumer


def committed(consumer: RecordingConsumer) -> dict[tuple[str, int], int]:
    result: dict[tuple[str, int], int] = {}
    for commit in consumer.commits:
        result.update(commit)
    return result


def test_a_settled_batch_is_committed_past_its_last_offset() -> None:
    s, consumer = settler()
    s.begin_batch({("in", 0): [100, 101, 102]})
    assert s.settle([("in", 0)])
    s.finish()
    assert committed(consumer) == {("in", 0): 103}


def test_an_abandoned_batch_is_never_committed_even_at_shutdown() -> None:
    s, consumer = settler()
    s.begin_batch({("in", 0): [100, 101]})
    assert s.settle([("in", 0)])
    s.begin_batch({("in", 0): [102, 103, 104], ("in", 1): [7]})
    s.abandon({("in", 0): [102, 103, 104], ("in", 1): [7]})  # process or send raised
    s.finish()
    offsets = committed(consumer)
    assert offsets.get(("in", 0), 0) <= 102
    assert offsets.get(("in", 1), 0) <= 7


# ---- exactly-once: transaction failures ---------------------------------------------------------
#
# The errors are injected: a real broker cannot be made to answer a given transaction call with a
# retriable, abortable or fatal error on demand. Real fencing is exercised in
# tests/integration/test_exactly_once.py.


def _error(*, fatal: bool = False, retriable: bool = False, abortable: bool = False) -> Any:
    from confluent_kafka import KafkaError, KafkaException

    return KafkaException(
        KafkaError(
            KafkaError._STATE, "injected", fatal=fatal, retriable=retriable,
            txn_requires_abort=abortable,
        )
    )  # fmt: skip


class TxnSink:
    """A transactional sink whose calls fail as scripted: ``failures[name]`` is a list of
    exceptions raised by successive calls (None = succeed)."""

    def __init__(self, failures: dict[str, list[Any]] | None = None) -> None:
        self.failures = failures or {}
        self.in_transaction = False
        self.fatal = None
        self.calls: list[str] = []
        self.sent: list[Any] = []
        self.discarded = False

    def _call(self, name: str) -> None:
        self.calls.append(name)
        script = self.failures.get(name)
        if script:
            exc = script.pop(0)
            if exc is not None:
                raise exc

    def send(self, outputs: list[Any]) -> None:
        self._call("begin")
        self.in_transaction = True
        self.sent.extend(outputs)

    def take_failures(self) -> list[Any]:
        return []

    def send_offsets(self, offsets: list[Any], metadata: Any) -> None:
        self._call("send_offsets")

    def commit_transaction(self) -> None:
        self._call("commit")
        self.in_transaction = False

    def abort_transaction(self) -> None:
        self._call("abort")
        self.in_transaction = False

    def discard(self) -> None:
        self.discarded = True


class TxnConsumer(RecordingConsumer):
    def consumer_group_metadata(self) -> bytes:
        return b"group-metadata"


def eos_settler(
    sink: TxnSink, new_sinks: list[TxnSink] | None = None
) -> tuple[Settler, TxnConsumer, list[TxnSink]]:
    consumer = TxnConsumer()
    created: list[TxnSink] = []

    def new_sink() -> Any:
        fresh = (new_sinks or []).pop(0) if new_sinks else TxnSink()
        created.append(fresh)
        return fresh

    s = Settler(
        sink,  # type: ignore[arg-type]
        exactly_once=True,
        commit_interval_s=0.0,
        on_waiting=lambda _n: True,
        on_committed=lambda: None,
        on_error=lambda _e: None,
        new_sink=new_sink,
    )
    s.consumer = consumer  # type: ignore[assignment]
    return s, consumer, created


def test_exactly_once_retries_a_retriable_commit() -> None:
    sink = TxnSink({"commit": [_error(retriable=True), None]})
    s, consumer, created = eos_settler(sink)
    s.begin_batch({("in", 0): [5, 6, 7]})
    s.send(["out"])
    assert s.settle([("in", 0)])
    assert sink.calls == ["begin", "send_offsets", "commit", "commit"]
    assert not consumer.seeks and not created


def test_exactly_once_aborts_and_rewinds_on_an_abortable_error() -> None:
    sink = TxnSink({"commit": [_error(abortable=True)]})
    s, consumer, created = eos_settler(sink)
    s.send_side(["side-event"])
    s.begin_batch({("in", 0): [5, 6, 7], ("in", 1): [40]})
    s.send(["out"])
    assert not s.settle([("in", 0), ("in", 1)])
    assert "abort" in sink.calls
    assert sorted(consumer.seeks) == [("in", 0, 5), ("in", 1, 40)]  # back to the batch start
    assert sink.sent.count("side-event") == 2  # side outputs go out again in the next one
    assert not created
    # the batch comes again and commits
    s.begin_batch({("in", 0): [5, 6, 7], ("in", 1): [40]})
    s.send(["out"])
    assert s.settle([("in", 0), ("in", 1)])


def test_exactly_once_replaces_a_fatal_producer_and_rewinds() -> None:
    sink = TxnSink({"send_offsets": [_error(fatal=True)]})
    s, consumer, created = eos_settler(sink)
    s.begin_batch({("in", 0): [10, 11]})
    s.send(["out"])
    assert not s.settle([("in", 0)])
    assert sink.discarded and len(created) == 1 and s.sink is created[0]
    assert consumer.seeks == [("in", 0, 10)]
    assert "commit" not in sink.calls


def test_exactly_once_replaces_the_producer_when_a_transaction_cannot_begin() -> None:
    sink = TxnSink({"begin": [_error(fatal=True)]})
    s, consumer, created = eos_settler(sink)
    s.begin_batch({("in", 0): [3]})
    s.send(["out"])  # raises inside; the settler remembers it
    assert not s.settle([("in", 0)])
    assert len(created) == 1 and consumer.seeks == [("in", 0, 3)]


def test_exactly_once_gives_up_when_the_producer_keeps_being_fenced() -> None:
    fenced = [TxnSink({"commit": [_error(fatal=True)]}) for _ in range(4)]
    s, _consumer, _created = eos_settler(fenced[0], new_sinks=fenced[1:])
    with pytest.raises(SettleError, match="transactional_id"):
        for _ in range(4):
            s.begin_batch({("in", 0): [1]})
            s.send(["out"])
            assert not s.settle([("in", 0)])


def test_a_failed_delivery_of_unknown_origin_commits_nothing_of_the_batch() -> None:
    """Delivery reports carry no headers: a failure cannot be traced to its input, so the whole
    batch is consumed again (this lost records while the broker was unreachable)."""
    from interceptor.stream.sink import DeliveryFailure

    class FailingSink(QuietSink):
        def take_failures(self) -> list[Any]:
            return [DeliveryFailure("out", "Local: Message timed out", None)]

    s, consumer = settler()
    s.begin_batch({("in", 0): [100, 101]})
    assert s.settle([("in", 0)])
    s.sink = FailingSink()  # type: ignore[assignment]
    s.begin_batch({("in", 0): [102, 103], ("in", 1): [7, 8]})
    assert not s.settle([("in", 0), ("in", 1)])
    assert committed(consumer).get(("in", 0)) == 102
    assert ("in", 1) not in committed(consumer)
    assert sorted(consumer.seeks) == [("in", 0, 102), ("in", 1, 7)]
