"""The proxy monitor in the pure pipeline: panel join, people counted once, flags reaching the
rules, audit events on status changes, snapshots restored and merged, deletion."""

from __future__ import annotations

import logging
from pathlib import Path

import orjson
import pytest

from interceptor.config import Settings
from interceptor.demo.synthetic import Population, SyntheticTraffic
from interceptor.envelope import OutputRecord, SourceRecord
from interceptor.pipeline import Pipeline

REPO = Path(__file__).resolve().parents[2]
PROTECTED_WORDS = ("hispanic", "nonbinary", "native")


def _pipeline(instance: str = "unit", **detectors: object) -> Pipeline:
    settings = Settings(
        policies={"path": str(REPO / "policies"), "reload": False},
        manifests={"path": str(REPO / "examples" / "transformations")},
        audit={"entity_salt": "unit-salt-0123456789abcdef"},
        detectors={"instance_id": instance, "half_life_s": None, **detectors},
    )
    return Pipeline.from_settings(settings)


def _load_panel(pipeline: Pipeline, population: Population) -> None:
    for m in population.panel_messages():
        source = SourceRecord("privacy.audit-panel", 0, 0, m.key, m.value)
        assert pipeline.on_panel(source) == []


def _batches(population: Population, records: int, seed: int = 2) -> list[list[SourceRecord]]:
    messages = list(SyntheticTraffic(population, seed=seed).messages(records))
    sources = [
        SourceRecord("features.raw", 0, i, m.key, m.value, m.headers)
        for i, m in enumerate(messages)
    ]
    return [sources[i : i + 1000] for i in range(0, len(sources), 1000)]


def _run(pipeline: Pipeline, batches: list[list[SourceRecord]]) -> list[OutputRecord]:
    outputs: list[OutputRecord] = []
    for batch in batches:
        outputs += pipeline.process(batch, now=1_000.0).outputs
    return outputs


def test_records_of_one_person_count_once_per_transformation() -> None:
    population = Population(300, seed=1)
    pipeline = _pipeline()
    _load_panel(pipeline, population)
    batches = _batches(population, 4_000)
    _run(pipeline, batches)
    proxy = pipeline.proxy
    assert proxy is not None
    fed = proxy.panel_records
    assert 0 < fed <= len(population.panel) * 10  # at most one per (transformation, person)
    _run(pipeline, batches)  # the same people again: nothing new to count
    assert proxy.panel_records == fed


def test_flags_reach_the_rules_and_status_changes_are_audited() -> None:
    population = Population(2_000, seed=5)
    pipeline = _pipeline()
    _load_panel(pipeline, population)
    batches = _batches(population, 12_000, seed=6)
    _run(pipeline, batches[:8])
    maintenance = pipeline.maintain(2_000.0)
    report = maintenance.report
    assert report is not None
    flagged = {(f.transformation, f.feature, f.attribute) for f in report.findings if f.flagged}
    assert ("geo_features", "zip3", "race") in flagged
    events = [orjson.loads(o.value or b"") for o in maintenance.outputs if o.destination == "audit"]
    zip3 = [e for e in events if e["evidence"]["feature"] == "zip3"]
    assert {e["kind"] for e in events} == {"detector"}
    assert any(e["decision"] == "proxy" and e["evidence"]["attribute"] == "race" for e in zip3)
    assert all(e["entity"] is None for e in events)
    texts = [(o.value or b"").decode("utf-8", "replace") for o in maintenance.outputs]
    assert not any(word in text for text in texts for word in PROTECTED_WORDS)
    # The next batches are decided with the flag in force: AD-11 flags the records carrying zip3.
    later = _run(pipeline, batches[8:])
    rules = {
        dict(o.headers).get("interceptor-rules", b"").decode()
        for o in later
        if o.destination == "clean"
    }
    assert any("AD-11" in r for r in rules)
    # A second evaluation with nothing new changes no status.
    assert pipeline.maintain(2_010.0).report is not None
    assert pipeline.maintain(2_020.0).report.changes == []  # type: ignore[union-attr]


def test_snapshots_restore_own_tables_and_add_other_instances() -> None:
    population = Population(500, seed=3)
    batches = _batches(population, 3_000, seed=4)
    first = _pipeline("a")
    _load_panel(first, population)
    _run(first, batches[:2])
    assert first.proxy is not None
    own = first.maintain(1_000.0, closing=True).outputs
    snapshot = [o for o in own if o.destination == "detector_state"]
    assert len(snapshot) == 1 and snapshot[0].key == b"a"
    saved = dict(first.proxy.bank.samples())

    restarted = _pipeline("a")
    assert restarted.proxy is not None
    restarted.on_detector_state(SourceRecord("state", 0, 0, b"a", snapshot[0].value))
    restarted.maintain(1_001.0)  # first evaluation: restores before judging
    assert restarted.proxy.bank.samples() == saved

    other = _pipeline("b")
    assert other.proxy is not None
    other.on_detector_state(SourceRecord("state", 0, 0, b"a", snapshot[0].value))
    report = other.maintain(1_001.0).report
    assert report is not None and report.findings  # judged on a's tables alone
    assert other.proxy.bank.samples() == {}  # a's tables are remote, not restored
    # An unreadable snapshot is refused with a reason and changes nothing.
    assert other.proxy.on_snapshot(b"c", b"garbage") is not None


def test_a_deleted_person_leaves_the_panel() -> None:
    population = Population(50, seed=9)
    pipeline = _pipeline()
    _load_panel(pipeline, population)
    entity = population.panel[0]
    assert pipeline.proxy is not None and entity in pipeline.proxy.panel
    deletion = orjson.dumps({"deleted": True, "updated_at": "2026-12-01T00:00:00Z"})
    pipeline.on_consent(SourceRecord("privacy.consent", 0, 0, entity.encode(), deletion))
    assert entity not in pipeline.proxy.panel


def test_bad_panel_messages_are_logged_without_their_values(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pipeline = _pipeline()
    secret = "hispanic" * 40  # too long to be a level: refused
    with caplog.at_level(logging.WARNING, logger="interceptor.pipeline"):
        pipeline.on_panel(SourceRecord("p", 0, 1, b"u-1", orjson.dumps({"race": secret})))
        pipeline.on_panel(SourceRecord("p", 0, 2, b"u-2", b"{broken"))
    assert len(caplog.records) == 2
    assert not any("hispanic" in r.getMessage() for r in caplog.records)
    assert pipeline.proxy is not None and len(pipeline.proxy.panel) == 0
