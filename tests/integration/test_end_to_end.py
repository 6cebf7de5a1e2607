"""The real pipeline on the embedded broker: routing, headers, dead-letter fidelity, audit trail."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import orjson
import pytest
from prometheus_client import CollectorRegistry

from interceptor.config import Settings
from interceptor.envelope import SourceRecord
from interceptor.metrics import make_metrics
from interceptor.pipeline import Pipeline
from interceptor.stream import Runner
from tests.conftest import ReadRecord
from tests.integration.feature_data import (
    BAD_RECORDS,
    MAX_RECORD_BYTES,
    UNREGISTERED,
    feature_record,
    valid_messages,
)
from tests.integration.running import running, wait_for

pytestmark = pytest.mark.kafka

ROUTED = {"clean", "quarantine", "deadletter"}


def _with_mapped_topic(settings: Settings) -> Settings:
    raw = settings.topics.inputs[0]
    topics = settings.topics.model_copy(
        update={
            "inputs": [raw, f"{raw}-mapped"],
            "transformation_by_topic": {f"{raw}-mapped": "contextual_page"},
        }
    )
    return settings.model_copy(update={"topics": topics})


def _as_source(r: ReadRecord) -> SourceRecord:
    return SourceRecord(r.topic, r.partition, r.offset, r.key, r.value, r.headers)


def test_every_input_offset_is_routed_exactly_once_with_its_headers(
    settings_factory: Callable[..., Settings],
    create_topics: Callable[[Settings], None],
    produce: Callable[..., None],
    read: Callable[..., list[ReadRecord]],
) -> None:
    settings = _with_mapped_topic(
        settings_factory(processing={"max_record_bytes": MAX_RECORD_BYTES, "batch_size": 128})
    )
    create_topics(settings)
    raw, mapped = settings.topics.inputs
    valid = valid_messages(300)
    produce(raw, valid + [(k, v, h) for k, v, h, _ in BAD_RECORDS] + [UNREGISTERED])
    produce(mapped, [(b"u-m", feature_record("u-m", None), []) for _ in range(20)])
    total = len(valid) + len(BAD_RECORDS) + 1 + 20
    inputs = read([raw, mapped], total)
    assert len(inputs) == total
    by_source = {(r.topic, r.partition, r.offset): r for r in inputs}

    pipeline = Pipeline.from_settings(settings)
    runner = Runner(settings, pipeline, make_metrics(CollectorRegistry()))
    with running(runner):
        wait_for(lambda: runner.progress().records_in >= total, 40, "every record processed")
        wait_for(lambda: runner.progress().commits >= 1, 10, "a commit")

    t = settings.topics
    topic_kind = {t.clean: "clean", t.quarantine: "quarantine", t.deadletter: "deadletter"}
    outputs = read(list(topic_kind), total + 1, timeout_s=3)
    sources = Counter(o.source for o in outputs)
    assert len(outputs) == total, "an input was lost or routed twice"
    assert set(sources) == set(by_source)
    assert set(sources.values()) == {1}

    policy = pipeline.policy_hash
    expected_reason = {(k, v): reason for k, v, _, reason in BAD_RECORDS}
    for out in outputs:
        assert out.source is not None
        source = by_source[out.source]
        kind = topic_kind[out.topic]
        decision = out.header("interceptor-decision")
        assert out.header("interceptor-policy") == policy
        assert out.header("interceptor-rules") is not None
        assert out.key == source.key
        # the input's own headers come first, unchanged
        assert out.headers[: len(source.headers)] == source.headers
        if kind == "deadletter":
            assert decision == "deadletter"
            assert out.value == source.value
            assert out.header("interceptor-error") == expected_reason[(source.key, source.value)]
        elif kind == "quarantine":
            assert decision == "block"
            assert out.value == source.value
        else:
            assert decision in {"allow", "flag", "transform", "redact"}
            if decision in {"allow", "flag"}:
                assert out.value == source.value
    kinds = Counter(topic_kind[o.topic] for o in outputs)
    assert kinds["deadletter"] == len(BAD_RECORDS)
    unregistered = [o for o in outputs if o.key == UNREGISTERED[0]]
    assert unregistered[0].topic == t.quarantine
    assert "unregistered-transformation" in (unregistered[0].header("interceptor-rules") or "")
    assert all(o.topic != t.deadletter for o in outputs if o.source and o.source[0] == mapped)

    # the same records decided offline by a fresh pipeline: the stream changes nothing
    offline = Pipeline.from_settings(settings).process(
        [_as_source(r) for r in inputs], now=time.time()
    )
    offline_decision = {}
    for o in offline.outputs:
        if o.destination in ROUTED:
            h = dict(o.headers)
            src = (
                h["interceptor-src-topic"].decode(),
                int(h["interceptor-src-partition"]),
                int(h["interceptor-src-offset"]),
            )
            offline_decision[src] = h["interceptor-decision"].decode()
    assert {o.source: o.header("interceptor-decision") for o in outputs} == offline_decision
    assert Counter(runner.progress().decisions) == Counter(offline.decisions)

    # one decision audit event per non-allow decision, naming its source; never a raw entity id
    non_allow = {
        o.source for o in outputs if o.header("interceptor-decision") not in {"allow", "deadletter"}
    }
    audit = read([t.audit], len(non_allow) + 50, timeout_s=3)
    events = [orjson.loads(a.value or b"{}") for a in audit]
    decision_sources = {
        (e["source"]["topic"], e["source"]["partition"], e["source"]["offset"])
        for e in events
        if e["kind"] == "decision"
    }
    assert decision_sources == non_allow
    raw_ids = {r.key.decode() for r in inputs if r.key}
    assert not any(e.get("entity") in raw_ids for e in events)
