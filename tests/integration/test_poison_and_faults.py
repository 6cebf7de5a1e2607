"""Poison input and evaluation faults on the embedded broker: the loop goes on, nothing is lost.

Poison (tests/poison.py: broken bytes, deep nesting, huge values, wrong types, NaN, duplicate
keys, empty values, null keys) must all reach the dead-letter topic byte for byte, with the
dead-letter metric adding up. Evaluation faults are injected (a real policy cannot be made to
raise on demand): the compiled policy raises for any batch holding an ``u-explode`` record, and
the whole pipeline call raises for any batch holding an ``u-crash`` record. Their records must
be quarantined with rule ``evaluation-fault``, never forwarded, and the loop must keep going.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from interceptor.config import Settings
from interceptor.envelope import SourceRecord
from interceptor.metrics import make_metrics
from interceptor.pipeline import BatchResult, Pipeline
from interceptor.stream import Runner
from tests.conftest import ReadRecord
from tests.integration.feature_data import feature_record, valid_messages
from tests.integration.running import running, wait_for
from tests.poison import POISON_MAX_BYTES, poison

pytestmark = pytest.mark.kafka


class FaultyPipeline(Pipeline):
    """The real pipeline, with faults injected by marker entities."""

    def process(self, batch: Sequence[SourceRecord], *, now: float) -> BatchResult:
        if any(b'"u-crash"' in (r.value or b"") for r in batch):
            raise RuntimeError("injected: the pipeline call fails")
        compiled = self.bundle.compiled
        if any(b'"u-explode"' in (r.value or b"") for r in batch):
            original = compiled.decide

            def explode(*args: Any, **kwargs: Any) -> Any:
                raise RuntimeError("injected: the policy evaluation fails")

            object.__setattr__(compiled, "decide", explode)
            try:
                return super().process(batch, now=now)
            finally:
                object.__setattr__(compiled, "decide", original)
        return super().process(batch, now=now)


def test_poison_and_faults_never_stop_the_loop(
    settings_factory: Callable[..., Settings],
    create_topics: Callable[[Settings], None],
    produce: Callable[..., None],
    read: Callable[..., list[ReadRecord]],
) -> None:
    settings = settings_factory(
        processing={"max_record_bytes": POISON_MAX_BYTES, "batch_size": 100},
        topics={"partitions": 1},
    )
    create_topics(settings)
    raw = settings.topics.inputs[0]
    bad = poison(360)
    good = valid_messages(300, seed=9)
    faults = [
        (b"u-explode", feature_record("u-explode", "interest_segments"), []),
        (b"u-crash", feature_record("u-crash", "interest_segments"), []),
    ]
    # poison, valid records and the two fault triggers interleaved, in one partition
    messages: list[tuple[bytes | None, bytes | None, list[Any]]] = []
    for i in range(300):
        messages.append(good[i])
        messages.append((*bad[i], []))
        if i in (100, 200):
            messages.append(faults[i // 100 - 1])
    messages += [(*b, []) for b in bad[300:]]
    produce(raw, messages, partition=0)
    registry = CollectorRegistry()
    pipeline = FaultyPipeline.from_settings(settings)
    runner = Runner(settings, pipeline, make_metrics(registry))
    with running(runner):
        wait_for(lambda: runner.progress().records_in >= len(messages), 60, "every record")
        assert runner.progress().evaluation_faults >= 1
    t = settings.topics
    outputs = read([t.clean, t.quarantine, t.deadletter], len(messages) + 1, timeout_s=5)
    by_offset = {r.source[2]: r for r in outputs if r.source is not None}
    assert len(outputs) == len(messages) == len(by_offset)  # each exactly once
    inputs = {r.offset: r for r in read([raw], len(messages))}
    poison_values = {(k, v) for k, v in bad}
    dead = Counter()
    for offset, record in inputs.items():
        out = by_offset[offset]
        if (record.key, record.value) in poison_values:
            assert out.topic == t.deadletter, (record.value or b"")[:60]
            assert (out.key, out.value) == (record.key, record.value)
            dead[out.header("interceptor-error")] += 1
        elif record.key in (b"u-explode", b"u-crash"):
            assert out.topic == t.quarantine
            assert out.header("interceptor-rules") == "evaluation-fault"
        else:
            assert out.topic in (t.clean, t.quarantine)
    assert sum(dead.values()) == len(bad)
    metric = sum(
        registry.get_sample_value("interceptor_deadletter_total", {"reason": reason}) or 0
        for reason in dead
    )
    assert metric == len(bad)
    faulted = [r for r in outputs if r.header("interceptor-rules") == "evaluation-fault"]
    assert all(r.topic == t.quarantine for r in faulted)
    assert any(r.header("interceptor-decision") == "block" for r in faulted)
