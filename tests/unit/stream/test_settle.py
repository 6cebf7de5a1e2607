"""The settler never commits a batch whose outputs were not all handed over and acknowledged.

The sink and consumer here are stand-ins: the fault injected (an exception between consuming a
batch and producing its outputs) is one a real broker cannot produce on demand.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import TopicPartition

from interceptor.stream.settle import Settler


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
