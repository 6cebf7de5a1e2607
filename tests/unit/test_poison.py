"""Poison input through the real pipeline: nothing raises, all is dead-lettered, counts add up.

Hypothesis draws the poison (random bytes, broken UTF-8, deep nesting, huge values, wrong types,
NaN and Infinity, duplicate keys, empty values, null keys) and mixes it with valid records; the
batch must route each record exactly once, every poison record to dead-letter with its bytes
intact.
"""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interceptor.envelope import OutputRecord, SourceRecord
from interceptor.pipeline import Pipeline
from tests.poison import MAKERS, POISON_MAX_BYTES

REPO = Path(__file__).resolve().parents[2]
NOW = 1796122800.0


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline.from_directories(
        policies=REPO / "policies",
        manifests=REPO / "examples" / "transformations",
        entity_salt=b"poison-test-salt-0123456789",
        reload=False,
        max_record_bytes=POISON_MAX_BYTES,
    )


VALID = orjson.dumps(
    {
        "entity_id": "u-7",
        "event_time": "2026-12-01T10:00:00Z",
        "transformation": "interest_segments",
        "version": "7",
        "features": {"top_segment": "travel", "ctr_7d": 0.1, "sessions_7d": 3},
    }
)

made = st.builds(
    lambda kind, seed: MAKERS[kind](random.Random(seed)),
    st.sampled_from(sorted(MAKERS)),
    st.integers(0, 2**32),
)
garbage = st.one_of(
    st.binary(max_size=400).filter(lambda b: b[:1] not in (b"{",)),  # never an object
    st.recursive(
        st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4),
        max_leaves=20,
    ).map(orjson.dumps),  # JSON, never an object
    st.dictionaries(st.text(max_size=10), st.integers(-(2**63), 2**63 - 1), max_size=5).map(
        orjson.dumps
    ),
)
poison_value = st.one_of(made, garbage, st.just(b""), st.none())
keys = st.one_of(st.none(), st.just(b""), st.binary(max_size=20))


def _src(offset: int, key: bytes | None, value: bytes | None) -> SourceRecord:
    return SourceRecord("features.raw", 0, offset, key, value, (("h", b"\x00\xff"),))


def _routed(outputs: list[OutputRecord]) -> list[OutputRecord]:
    return [o for o in outputs if o.destination != "audit"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(keys, poison_value, st.booleans()), min_size=1, max_size=30))
def test_poison_is_dead_lettered_and_the_batch_adds_up(
    pipeline: Pipeline, messages: list[tuple[bytes | None, bytes | None, bool]]
) -> None:
    batch: list[SourceRecord] = []
    poison_offsets: set[int] = set()
    for i, (key, value, valid_neighbour) in enumerate(messages):
        batch.append(_src(2 * i, key, value))
        poison_offsets.add(2 * i)
        if valid_neighbour:
            batch.append(_src(2 * i + 1, key, VALID))  # a null or odd key is no poison
    result = pipeline.process(batch, now=NOW)
    routed = _routed(result.outputs)
    assert len(routed) == len(batch)  # every record exactly once, in order
    by_offset = {int(dict(o.headers)["interceptor-src-offset"]): o for o in routed}
    assert set(by_offset) == {r.offset for r in batch}
    for record in batch:
        out = by_offset[record.offset]
        if record.offset in poison_offsets:
            assert out.destination == "deadletter", (record.value or b"")[:80]
            assert (out.key, out.value) == (record.key, record.value)
            assert out.headers[: len(record.headers)] == record.headers
        else:
            assert out.destination in ("clean", "quarantine")
    dead = sum(1 for o in routed if o.destination == "deadletter")
    assert dead == len(poison_offsets) == result.decisions["deadletter"]
    assert sum(result.deadletter_reasons.values()) == dead
    assert sum(result.decisions.values()) == len(batch)
