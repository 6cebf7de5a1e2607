"""Rebalancing: an instance joins or dies mid-stream; partitions move, nothing is lost."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from interceptor.config import Settings
from interceptor.envelope import SourceRecord
from interceptor.metrics import make_metrics
from interceptor.pipeline import Pipeline
from interceptor.stream import Runner
from tests.conftest import ReadRecord
from tests.integration.feature_data import valid_messages
from tests.integration.processes import config_file, start
from tests.integration.running import TopicTail, running, wait_for
from tests.integration.standin import StandInPipeline

pytestmark = pytest.mark.kafka

RECORDS = 6000


def test_second_instance_takes_partitions_without_loss(
    settings_factory: Callable[..., Settings],
    create_topics: Callable[[Settings], None],
    produce: Callable[..., None],
    read: Callable[..., list[ReadRecord]],
) -> None:
    settings = settings_factory(processing={"batch_size": 100})
    create_topics(settings)
    raw = settings.topics.inputs[0]
    messages = [(f"k{i}".encode(), f"v{i}".encode()) for i in range(RECORDS)]

    def trickle() -> None:  # about 12 s: longer than a rebalance on the embedded broker
        for first in range(0, RECORDS, 200):
            produce(raw, messages[first : first + 200])
            time.sleep(0.4)

    producer = threading.Thread(target=trickle, daemon=True)
    first = Runner(settings, StandInPipeline(), make_metrics(CollectorRegistry()))
    second = Runner(settings, StandInPipeline(), make_metrics(CollectorRegistry()))
    tail = TopicTail(settings.kafka.bootstrap_servers, [settings.topics.clean])
    try:
        with running(first):
            producer.start()
            wait_for(lambda: first.progress().records_in >= 500, 30, "the first instance")
            with running(second):
                producer.join(30)
                inputs = read([raw], RECORDS)
                expected = {(r.topic, r.partition, r.offset) for r in inputs}
                tail.until(lambda seen: expected <= {r.source for r in seen}, 40)
                assert second.progress().records_in > 0, "the joining instance got no partition"
    finally:
        tail.close()
    sources = Counter(r.source for r in tail.records)
    assert not expected - set(sources)
    print(f"duplicates across the rebalance: {sum(n - 1 for n in sources.values())}")


def test_survivor_takes_over_a_killed_instance_with_consistent_decisions(
    settings_factory: Callable[..., Settings],
    create_topics: Callable[[Settings], None],
    produce: Callable[..., None],
    read: Callable[..., list[ReadRecord]],
    tmp_path: Path,
) -> None:
    """Two instances with the real pipeline, one a child process killed with SIGKILL mid-stream:
    after the session timeout the survivor owns every partition, every input reaches an output,
    and every output (duplicates included) carries the decision the pipeline makes for its input
    on its own."""
    settings = settings_factory(processing={"batch_size": 100}, kafka={"session_timeout_ms": 3000})
    create_topics(settings)
    raw = settings.topics.inputs[0]
    t = settings.topics
    messages = valid_messages(6000, seed=21)
    killed = threading.Event()

    def trickle() -> None:
        for start_at in range(0, len(messages), 200):
            if start_at >= len(messages) // 2:
                killed.wait(30)
            produce(raw, messages[start_at : start_at + 200])
            time.sleep(0.1)

    log = tmp_path / "victim.log"
    victim = start(config_file(settings, tmp_path / "victim.yaml"), log)
    survivor = Runner(settings, Pipeline.from_settings(settings), make_metrics(CollectorRegistry()))
    tail = TopicTail(settings.kafka.bootstrap_servers, [t.clean, t.quarantine, t.deadletter])
    producer = threading.Thread(target=trickle, daemon=True)
    try:
        with running(survivor):
            producer.start()
            wait_for(lambda: survivor.progress().records_in >= 200, 30, "the survivor working")
            before = survivor.progress().records_in
            tail.until(lambda seen: len(seen) - before >= 300, 30)
            wait_for(lambda: "assigned" in log.read_text(), 30, "the victim to own partitions")
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            killed.set()
            producer.join(30)
            inputs = read([raw], len(messages))
            expected = {(r.topic, r.partition, r.offset) for r in inputs}
            tail.until(lambda seen: expected <= {r.source for r in seen}, 40)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
        tail.close()
    assert victim.returncode == -signal.SIGKILL
    sources = Counter(r.source for r in tail.records)
    assert not expected - set(sources)
    reference = Pipeline.from_settings(settings).process(
        [SourceRecord(r.topic, r.partition, r.offset, r.key, r.value, r.headers) for r in inputs],
        now=time.time(),
    )
    decided: dict[tuple[int, int], tuple[str, str]] = {}
    for out in reference.outputs:
        if out.destination == "audit":
            continue
        h = {name: value.decode(errors="replace") for name, value in out.headers}
        decided[(int(h["interceptor-src-partition"]), int(h["interceptor-src-offset"]))] = (
            h["interceptor-decision"],
            h["interceptor-rules"],
        )
    for record in tail.records:
        assert record.source is not None
        _, partition, offset = record.source
        got = (record.header("interceptor-decision"), record.header("interceptor-rules"))
        assert got == decided[(partition, offset)], record.source
    print(f"duplicates after the kill: {sum(n - 1 for n in sources.values())}")
