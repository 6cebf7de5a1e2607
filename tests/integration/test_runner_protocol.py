"""The stream protocol with a stand-in pipeline: routing, commits, rewinds, restarts."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from prometheus_client import CollectorRegistry

from interceptor.config import Settings
from interceptor.envelope import SourceRecord
from interceptor.metrics import make_metrics
from interceptor.stream import Runner
from tests.conftest import ReadRecord
from tests.integration.running import running, wait_for
from tests.integration.standin import StandInPipeline

pytestmark = pytest.mark.kafka


def _inputs(n: int) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    return [
        (f"k{i}".encode(), b"bad" if i % 10 == 3 else f"v{i}".encode(), [("orig", b"h%d" % i)])
        for i in range(n)
    ]


def _committed(settings: Settings, partitions: int) -> dict[int, int]:
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka.bootstrap_servers, "group.id": settings.kafka.group_id}
    )
    try:
        topic = settings.topics.inputs[0]
        result = consumer.committed(
            [TopicPartition(topic, p) for p in range(partitions)], timeout=10
        )
        return {tp.partition: tp.offset for tp in result}
    finally:
        consumer.close()


def _sources(records: list[ReadRecord]) -> Counter[tuple[str, int, int]]:
    return Counter(r.source for r in records if r.source is not None)


def test_every_input_routed_once_and_committed(
    settings_factory: Callable[..., Settings],
    create_topics: Callable[[Settings], None],
    produce: Callable[..., None],
    read: Callable[..., list[ReadRecord]],
) -> None:
    settings = settings_factory()
    create_topics(settings)
    n = 600
    produce(settings.topics.inputs[0], _inputs(n))
    runner = Runner(settings, StandInPipeline(), make_metrics(CollectorRegistry()))
    with running(runner):
        wait_for(lambda: runner.progress().records_in >= n, 30, "all records processed")
    t = settings.topics
    outputs = read([t.clean, t.deadletter], n + 1, timeout_s=3)
    sources = _sources(outputs)
    assert len(outputs) == n
    assert set(sources.values()) == {1}
    dead = [r for r in outputs if r.topic == t.deadletter]
    assert len(dead) == n // 10
    assert all(r.value == b"bad" and r.header("orig") is not None for r in dead)
    progress = runner.progress()
    assert progress.outputs == {"clean": n - n // 10, "deadletter": n // 10}
    by_partition = Counter(src[1] for src in sources)
    committed = _committed(settings, 3)
    assert committed == {p: by_partition[p] for p in range(3)}
    assert runner.metrics.registry.get_sample_value(
        "interceptor_records_consumed_total", {"topic": t.inputs[0]}
    ) == float(n)


def test_undelivered_output_is_consumed_again(
    settings_factory: Callable[..., Settings],
    create_topics: Callable[[Settings], None],
    produce: Callable[..., None],
    read: Callable[..., list[ReadRecord]],
) -> None:
    settings = settings_factory(kafka={"client": {"message.max.bytes": 100_000}})
    create_topics(settings)
    n = 200
    produce(settings.topics.inputs[0], [(b"k", f"v{i}".encode()) for i in range(n)], partition=0)

    def too_large_once(record: SourceRecord, attempt: int) -> bytes | None:
        return b"x" * 200_000 if record.offset == 57 and attempt == 1 else None

    pipeline = StandInPipeline(mangle=too_large_once)
    runner = Runner(settings, pipeline, make_metrics(CollectorRegistry()))
    with running(runner):
        last = (settings.topics.inputs[0], 0, n - 1)
        wait_for(lambda: pipeline.attempts[last] >= 2, 30, "the rewound records")
    outputs = read([settings.topics.clean], n, timeout_s=10)
    sources = _sources(outputs)
    assert {offset for _, _, offset in sources} == set(range(n))
    assert runner.progress().rewinds >= 1
    assert pipeline.attempts[(settings.topics.inputs[0], 0, 57)] == 2
    # nothing before the failed record was produced twice: the rewind starts at the failure
    assert all(sources[(settings.topics.inputs[0], 0, o)] == 1 for o in range(57))
    assert _committed(settings, 1) == {0: n}


def test_restart_resumes_after_the_last_commit(
    settings_factory: Callable[..., Settings],
    create_topics: Callable[[Settings], None],
    produce: Callable[..., None],
    read: Callable[..., list[ReadRecord]],
) -> None:
    settings = settings_factory()
    create_topics(settings)
    topic = settings.topics.inputs[0]
    produce(topic, [(f"a{i}".encode(), b"v") for i in range(100)])
    first = Runner(settings, StandInPipeline(), make_metrics(CollectorRegistry()))
    with running(first):
        wait_for(lambda: first.progress().records_in >= 100, 30, "first run")
    produce(topic, [(f"b{i}".encode(), b"v") for i in range(50)])
    second = Runner(settings, StandInPipeline(), make_metrics(CollectorRegistry()))
    with running(second):
        wait_for(lambda: second.progress().records_in >= 50, 30, "second run")
        time.sleep(0.5)
    assert second.progress().records_in == 50, "a cleanly stopped run must not leave duplicates"
    outputs = read([settings.topics.clean], 151, timeout_s=3)
    assert len(outputs) == 150


def test_state_topic_is_loaded_before_the_first_batch(
    settings_factory: Callable[..., Settings],
    create_topics: Callable[[Settings], None],
    produce: Callable[..., None],
) -> None:
    settings = settings_factory()
    create_topics(settings)
    produce(settings.topics.consent, [(f"e{i}".encode(), b"{}") for i in range(1500)])
    produce(settings.topics.inputs[0], [(b"k", b"v")])
    seen: list[int] = []
    pipeline = StandInPipeline()
    original = pipeline.process

    def spy(batch: Any, *, now: float) -> Any:
        seen.append(pipeline.consent_entities)
        return original(batch, now=now)

    pipeline.process = spy  # type: ignore[method-assign]
    runner = Runner(settings, pipeline, make_metrics(CollectorRegistry()))
    with running(runner):
        wait_for(lambda: runner.progress().records_in >= 1, 30, "the record")
        produce(settings.topics.consent, [(b"late", b"{}")])
        wait_for(lambda: pipeline.consent_entities == 1501, 10, "a consent update while running")
    assert seen[0] == 1500


def test_exactly_once_commits_outputs_and_offsets_together(
    settings_factory: Callable[..., Settings],
    create_topics: Callable[[Settings], None],
    produce: Callable[..., None],
    read: Callable[..., list[ReadRecord]],
    unique: Callable[[str], str],
) -> None:
    settings = settings_factory(
        processing={"guarantee": "exactly-once", "batch_size": 100},
        kafka={"transactional_id": unique("txn")},
    )
    create_topics(settings)
    n = 450
    produce(settings.topics.inputs[0], _inputs(n))
    runner = Runner(settings, StandInPipeline(), make_metrics(CollectorRegistry()))
    with running(runner):
        wait_for(lambda: runner.progress().records_in >= n, 30, "all records processed")
        wait_for(lambda: runner.progress().commits >= 1, 10, "a transaction")
    t = settings.topics
    outputs = read([t.clean, t.deadletter], n + 1, timeout_s=3)  # read_committed
    assert len(outputs) == n
    assert set(_sources(outputs).values()) == {1}
    by_partition = Counter(src[1] for src in _sources(outputs))
    assert _committed(settings, 3) == {p: by_partition[p] for p in range(3)}
