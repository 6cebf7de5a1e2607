"""Proxy detectors through the embedded broker: planted proxies flagged, decoys not, the flags
reach the rules, two instances agree with one, and a restart restores the tables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from interceptor.config import Settings
from interceptor.demo.synthetic import (
    DECOYS,
    PLANTED_COMBINATIONS,
    PLANTED_PROXIES,
    Population,
    SyntheticTraffic,
)
from interceptor.metrics import make_metrics
from interceptor.pipeline import Pipeline
from interceptor.proxies import DetectorReport
from interceptor.stream import Runner
from tests.integration.running import TopicTail, running, wait_for

pytestmark = pytest.mark.kafka

ENTITIES = 2_000
RECORDS = 12_000
MORE = 3_000
Message = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]


def _population() -> Population:
    return Population(ENTITIES, seed=5)


def _traffic(population: Population, count: int, seed: int = 6) -> list[Message]:
    return [
        (m.key, m.value, list(m.headers))
        for m in SyntheticTraffic(population, seed=seed).messages(count)
    ]


def _panel(population: Population) -> list[Message]:
    return [(m.key, m.value, list(m.headers)) for m in population.panel_messages()]


def _detector_settings(
    settings_factory: Callable[..., Settings], instance: str, **overrides: Any
) -> Settings:
    detectors = {
        "instance_id": instance,
        "evaluate_interval_ms": 200,
        "snapshot_interval_ms": 300,
        "combination_interval_ms": 500,
        "half_life_s": None,  # exact sums, so one instance and two can be compared to 1e-9
    }
    detectors.update(overrides)
    return settings_factory(detectors=detectors, processing={"batch_size": 1000})


def _routed(settings: Settings) -> TopicTail:
    t = settings.topics
    return TopicTail(settings.kafka.bootstrap_servers, [t.clean, t.quarantine, t.deadletter])


def _settled_report(pipeline: Pipeline, runner: Runner, timeout_s: float = 90) -> DetectorReport:
    """The first evaluation, with a classifier fit, made after the runner's last batch."""
    proxy = pipeline.proxy
    assert proxy is not None
    # Outputs become readable a moment before the runner books the batch as settled.
    wait_for(lambda: runner.progress().records_in >= RECORDS, 10, "the last batch to settle")
    last = runner.progress().last_batch_at

    def ready() -> bool:
        report = proxy.last_report
        if report is None:
            return False
        return report.evaluated_at > last and report.combinations_as_of > last

    wait_for(ready, timeout_s, "a detector evaluation after the last batch")
    assert proxy.last_report is not None
    return proxy.last_report


def _flagged(report: DetectorReport) -> set[tuple[str, str, str]]:
    return {(f.transformation, f.feature, f.attribute) for f in report.findings if f.flagged}


def test_planted_proxies_are_flagged_decoys_are_not_and_rules_see_the_flags(
    settings_factory: Callable[..., Settings],
    create_topics: Callable[[Settings], None],
    produce: Callable[..., None],
) -> None:
    settings = _detector_settings(settings_factory, "solo")
    create_topics(settings)
    population = _population()
    produce(settings.topics.audit_panel, _panel(population))
    registry = CollectorRegistry()
    pipeline = Pipeline.from_settings(settings)
    runner = Runner(settings, pipeline, make_metrics(registry))
    routed = _routed(settings)
    audit = TopicTail(settings.kafka.bootstrap_servers, [settings.topics.audit])
    with running(runner):
        produce(settings.topics.inputs[0], _traffic(population, RECORDS))
        routed.until(lambda seen: len(seen) >= RECORDS, 60)
        report = _settled_report(pipeline, runner)
        audit.until(lambda seen: any(_flags_zip3(r.value) for r in seen), 15)
        # More traffic now that the flags are in force (the first records may all have been
        # decided before the detectors had seen enough people to judge).
        produce(settings.topics.inputs[0], _traffic(population, MORE, seed=7))
        routed.until(lambda seen: len(seen) >= RECORDS + MORE, 60)

    flagged = _flagged(report)
    for planted in PLANTED_PROXIES:
        assert planted in flagged, f"{planted} not flagged; flagged: {sorted(flagged)}"
    flagged_features = {(t, f) for t, f, _ in flagged}
    for decoy in DECOYS:
        assert decoy not in flagged_features, f"decoy {decoy} flagged"
    by_pair = {(t, r.attribute): r for t, r in report.combinations}
    for transformation, _features, attribute in PLANTED_COMBINATIONS:
        result = by_pair[(transformation, attribute)]
        assert result.flagged, f"combination {transformation}/{attribute} missed: {result}"

    # The rules saw the flags: records carrying a flagged feature were flagged (AD-11) or had it
    # removed for housing, employment and credit campaigns (AD-05).
    rules = [r.header("interceptor-rules") or "" for r in routed.records]
    assert any("AD-11" in r for r in rules)
    assert any("AD-05" in r for r in rules)
    # Status changes are audited, with figures and no protected value.
    events = [orjson.loads(r.value) for r in audit.records if _kind(r.value) == "detector"]
    zip3 = [e for e in events if e["evidence"]["feature"] == "zip3"]
    assert any(e["evidence"]["status"] in ("review", "proxy") for e in zip3)
    # Metrics: the DESIGN gauges for the planted ZIP proxy.
    labels = {"transformation": "geo_features", "feature": "zip3", "attribute": "race"}
    assert registry.get_sample_value("interceptor_proxy_flagged", labels) == 1
    assert (registry.get_sample_value("interceptor_proxy_score", labels) or 0) > 0.05
    samples = registry.get_sample_value(
        "interceptor_detector_samples", {"transformation": "geo_features", "feature": "zip3"}
    )
    assert samples is not None and samples > 500
    _assert_no_protected_values(routed.records + audit.records, population)
    routed.close()
    audit.close()


def _flags_zip3(value: bytes | None) -> bool:
    if _kind(value) != "detector":
        return False
    evidence = orjson.loads(value or b"{}")["evidence"]
    return bool(evidence["feature"] == "zip3" and evidence["status"] in ("review", "proxy"))


def _kind(value: bytes | None) -> str | None:
    if value is None:
        return None
    try:
        return str(orjson.loads(value).get("kind"))
    except orjson.JSONDecodeError:
        return None


def _assert_no_protected_values(records: list[Any], population: Population) -> None:
    """No output or audit record carries a panel entity's protected values."""
    levels = {"hispanic", "nonbinary", "native"}  # words no feature or rule uses
    for record in records:
        text = (record.value or b"").decode("utf-8", "replace").lower()
        assert not any(f'"{level}"' in text for level in levels), text[:200]


def test_two_instances_reach_the_flags_of_one(
    settings_factory: Callable[..., Settings],
    create_topics: Callable[[Settings], None],
    produce: Callable[..., None],
) -> None:
    population = _population()
    traffic = _traffic(population, RECORDS, seed=8)

    solo_settings = _detector_settings(settings_factory, "solo")
    create_topics(solo_settings)
    produce(solo_settings.topics.audit_panel, _panel(population))
    solo_pipeline = Pipeline.from_settings(solo_settings)
    solo = Runner(solo_settings, solo_pipeline, make_metrics(CollectorRegistry()))
    with running(solo):
        produce(solo_settings.topics.inputs[0], traffic)
        _routed(solo_settings).until(lambda seen: len(seen) >= RECORDS, 60)
        expected = _settled_report(solo_pipeline, solo)

    pair_settings = _detector_settings(settings_factory, "a")
    pair_b = pair_settings.model_copy(
        update={"detectors": pair_settings.detectors.model_copy(update={"instance_id": "b"})}
    )
    create_topics(pair_settings)
    produce(pair_settings.topics.audit_panel, _panel(population))
    pipelines = [Pipeline.from_settings(s) for s in (pair_settings, pair_b)]
    runners = [
        Runner(s, p, make_metrics(CollectorRegistry()))
        for s, p in zip((pair_settings, pair_b), pipelines, strict=True)
    ]
    total = sum(n for n in expected.samples.values())
    with running(runners[0]), running(runners[1]):
        # Both in the group before the data flows: an entity's records then stay with one
        # instance, which counts the entity once, as the single instance did.
        wait_for(lambda: all(r.health.ready()[0] for r in runners), 30, "both instances to join")
        produce(pair_settings.topics.inputs[0], traffic)
        _routed(pair_settings).until(lambda seen: len(seen) >= RECORDS, 60)
        # Both instances did some of the work, and each ends up counting all of it.
        assert all(p.proxy is not None and p.proxy.panel_records > 0 for p in pipelines)
        want = _findings_n(expected)
        for pipeline in pipelines:
            try:
                wait_for(
                    lambda p=pipeline: _merged_n(p) == want,
                    30,
                    "the other instance's snapshot to arrive",
                )
            except AssertionError:
                got = _merged_n(pipeline) or {}
                diff = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
                raise AssertionError(
                    f"{pipeline.proxy.instance_id}: {list(diff.items())[:8]}"
                ) from None
    assert total > 0
    for pipeline in pipelines:
        assert pipeline.proxy is not None and pipeline.proxy.last_report is not None
        got = {_key(f): f for f in pipeline.proxy.last_report.findings}
        want = {_key(f): f for f in expected.findings}
        assert got.keys() == want.keys()
        for key, finding in want.items():
            assert got[key].status == finding.status, key
            assert abs(got[key].score - finding.score) < 1e-9, key


def _key(finding: Any) -> tuple[str, str, str]:
    return (finding.transformation, finding.feature, finding.attribute)


def _findings_n(report: DetectorReport) -> dict[tuple[str, str, str], int]:
    return {_key(f): f.n for f in report.findings}


def _merged_n(pipeline: Pipeline) -> dict[tuple[str, str, str], int] | None:
    proxy = pipeline.proxy
    if proxy is None or proxy.last_report is None:
        return None
    return _findings_n(proxy.last_report)


def test_a_restarted_instance_restores_its_tables(
    settings_factory: Callable[..., Settings],
    create_topics: Callable[[Settings], None],
    produce: Callable[..., None],
) -> None:
    settings = _detector_settings(settings_factory, "restartable")
    create_topics(settings)
    population = _population()
    produce(settings.topics.audit_panel, _panel(population))
    traffic = _traffic(population, 4_000, seed=9)
    routed = _routed(settings)

    def run_half(messages: list[Message], expect: int) -> int:
        pipeline = Pipeline.from_settings(settings)
        runner = Runner(settings, pipeline, make_metrics(CollectorRegistry()))
        with running(runner):
            produce(settings.topics.inputs[0], messages)
            routed.until(lambda seen: len(seen) >= expect, 60)
            wait_for(lambda: runner.progress().commits > 0, 10, "a commit")
        assert pipeline.proxy is not None
        return sum(pipeline.proxy.bank.samples().values())

    first = run_half(traffic[:2_000], 2_000)
    assert first > 0
    # The second process starts from the first one's snapshot (published when it stopped) and
    # adds the second half: its own tables hold both halves.
    both = run_half(traffic[2_000:], 4_000)
    second_alone = _samples_of(traffic[2_000:], population, settings)
    assert both == first + second_alone
    routed.close()


def _samples_of(messages: list[Message], population: Population, settings: Settings) -> int:
    """Panel samples the second half alone gives: a fresh pipeline over it, no broker."""
    from interceptor.envelope import SourceRecord

    pipeline = Pipeline.from_settings(settings)
    assert pipeline.proxy is not None
    for message in _panel(population):
        pipeline.proxy.on_panel(message[0], message[1])
    batch = [
        SourceRecord(settings.topics.inputs[0], 0, i, key, value, headers)
        for i, (key, value, headers) in enumerate(messages)
    ]
    pipeline.process(batch, now=0.0)
    return sum(pipeline.proxy.bank.samples().values())
