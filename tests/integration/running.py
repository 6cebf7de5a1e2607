"""Run a Runner on a background thread for the length of a ``with`` block."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from interceptor.stream import Runner
from interceptor.stream.convert import source_record
from tests.conftest import ReadRecord


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.05)


@contextmanager
def running(runner: Runner, *, join_timeout_s: float = 30.0) -> Iterator[Runner]:
    """Start ``runner.run()`` on a thread; stop it and re-raise its error on exit."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            runner.run()
        except BaseException as exc:  # surfaced in the test thread below
            errors.append(exc)

    thread = threading.Thread(target=target, name="runner", daemon=True)
    thread.start()
    try:
        yield runner
    finally:
        runner.request_stop()
        thread.join(join_timeout_s)
        assert not thread.is_alive(), "runner did not stop in time"
    if errors:
        raise errors[0]


class TopicTail:
    """Reads topics from the beginning and keeps what it saw, across calls (no group join)."""

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "tail",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 50,
            }
        )
        metadata = self._consumer.list_topics(timeout=10)
        self._consumer.assign(
            [
                TopicPartition(topic, p, OFFSET_BEGINNING)
                for topic in topics
                for p in metadata.topics[topic].partitions
            ]
        )
        self.records: list[ReadRecord] = []

    def poll(self, timeout_s: float = 0.2) -> int:
        for msg in self._consumer.consume(5000, timeout_s):
            if msg.error() is None:
                r = source_record(msg)
                self.records.append(
                    ReadRecord(r.topic, r.partition, r.offset, r.key, r.value, r.headers)
                )
        return len(self.records)

    def until(self, predicate: Callable[[list[ReadRecord]], bool], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate(self.records):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s}s ({len(self.records)} read)")
            self.poll()

    def close(self) -> None:
        self._consumer.close()
