"""Every case of the default pack's policy tests, replayed through the embedded broker.

``interceptor policy test`` checks the rules against the compiled engine directly; this test shows
the same cases decided the same way on the real path: manifests registered through the registry
topic, consent published to the consent topic, records produced to the input topic, decisions read
back from the output topics' headers. Each case gets its own entity id and its own manifest id (no
rule of the pack tests either), and its event time is shifted so that the record's age at decision
time is the age the case was written for (the pack's retention boundaries are days apart, the shift
error is seconds).

Cases that need proxy-detector readings (``proxy:``) cannot be replayed until detectors feed the
stream; the rules that only such cases exercise are listed and excluded by name, so a new rule that
silently loses stream coverage fails this test.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import orjson
import pytest
from prometheus_client import CollectorRegistry

from interceptor.config import Settings
from interceptor.metrics import make_metrics
from interceptor.pipeline import Pipeline
from interceptor.policy import load_bundle
from interceptor.policy.testfile import PolicyCase, load_cases
from interceptor.policy.testing import find_test_files
from interceptor.stream import Runner
from tests.conftest import REPO, ReadRecord
from tests.integration.running import running

pytestmark = pytest.mark.kafka

POLICIES = REPO / "policies"
#: Rules whose every positive case needs a proxy-detector reading.
PROXY_ONLY_RULES = {"AD-05", "AD-11"}


def _cases() -> list[PolicyCase]:
    cases: list[PolicyCase] = []
    for file in find_test_files(POLICIES):
        loaded, problems = load_cases(file, POLICIES)
        assert not problems, problems
        cases.extend(loaded)
    return cases


def _messages(
    cases: list[PolicyCase], now: float
) -> tuple[list, list, list, dict[str, PolicyCase]]:
    manifests, consent, records, by_entity = [], [], [], {}
    for index, case in enumerate(cases):
        entity = f"case-{index:03d}"
        transformation = f"{case.manifest.id}--case{index:03d}"
        manifest = case.manifest.model_dump(mode="json", exclude_none=True)
        manifest["id"] = transformation
        key = f"{transformation}:{case.manifest.version}".encode()
        manifests.append((key, orjson.dumps(manifest)))
        if case.consent is not None:
            state = case.consent.model_dump(mode="json", exclude_none=True)
            consent.append((entity.encode(), orjson.dumps(state)))
        record = case.record.model_dump(mode="json", exclude_none=True)
        age_s = case.now - case.record.event_epoch()
        record.update(
            entity_id=entity,
            transformation=transformation,
            event_time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - age_s)),
        )
        records.append((entity.encode(), orjson.dumps(record)))
        by_entity[entity] = case
    return manifests, consent, records, by_entity


def test_the_pack_cases_decide_the_same_through_kafka(
    settings_factory: Callable[..., Settings],
    create_topics: Callable[[Settings], None],
    produce: Callable[..., None],
    read: Callable[..., list[ReadRecord]],
) -> None:
    all_cases = _cases()
    cases = [case for case in all_cases if not case.proxy]
    covered = {rule for case in cases for rule in case.expect.rules}
    bundle_rules = {rule.id for rule in load_bundle(POLICIES).rules}
    assert bundle_rules - covered == PROXY_ONLY_RULES

    settings = settings_factory(manifests={"path": None})
    create_topics(settings)
    manifests, consent, records, by_entity = _messages(cases, time.time())
    produce(settings.topics.transformations, manifests)
    produce(settings.topics.consent, consent)
    produce(settings.topics.inputs[0], records)

    runner = Runner(settings, Pipeline.from_settings(settings), make_metrics(CollectorRegistry()))
    topics = settings.topics
    with running(runner):
        routed = read([topics.clean, topics.quarantine, topics.deadletter], len(records), 60)
    routed = [r for r in routed if r.source and r.source[0] == topics.inputs[0]]
    assert len(routed) == len(records)

    failures = []
    for output in routed:
        entity = (output.key or b"").decode()
        case = by_entity[entity]
        decision = output.header("interceptor-decision")
        rules = set(filter(None, (output.header("interceptor-rules") or "").split(",")))
        expected_topic = topics.quarantine if case.expect.decision == "block" else topics.clean
        problems = []
        if decision != case.expect.decision:
            problems.append(f"decision {decision}, expected {case.expect.decision}")
        if output.topic != expected_topic:
            problems.append(f"routed to {output.topic}")
        if missing := set(case.expect.rules) - rules:
            problems.append(f"missing rules {sorted(missing)}")
        if unwanted := set(case.expect.not_rules) & rules:
            problems.append(f"unexpected rules {sorted(unwanted)}")
        if case.expect.features is not None and decision != "block":
            features = orjson.loads(output.value or b"{}")["features"]
            for name, value in case.expect.features.items():
                if features.get(name) != value:
                    problems.append(f"feature {name}={features.get(name)!r}, expected {value!r}")
        if problems:
            failures.append(f"{case.location} {case.name}: {'; '.join(problems)}")
    assert not failures, "\n".join(failures)
    assert len(cases) >= 80  # the pack's whole suite, not a sample
