"""Policy hot reload while running: a broken change is rejected, a good one adopted."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from prometheus_client import CollectorRegistry

from interceptor.config import Settings
from interceptor.metrics import make_metrics
from interceptor.pipeline import Pipeline
from interceptor.stream import Runner
from tests.conftest import REPO
from tests.integration.feature_data import valid_messages
from tests.integration.running import TopicTail, running, wait_for

pytestmark = pytest.mark.kafka

BROKEN = "name: broken\nrules:\n  - id: BRK-01\n    titel: a typo is an error\n"


def test_broken_policy_rejected_then_good_change_adopted(
    settings_factory: Callable[..., Settings],
    create_topics: Callable[[Settings], None],
    produce: Callable[..., None],
    tmp_path: Path,
) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(REPO / "policies", policies)
    settings = settings_factory(policies={"path": str(policies), "reload_interval_ms": 100})
    create_topics(settings)
    t = settings.topics
    raw = t.inputs[0]
    routed = TopicTail(settings.kafka.bootstrap_servers, [t.clean, t.quarantine])
    audit = TopicTail(settings.kafka.bootstrap_servers, [t.audit])
    registry = CollectorRegistry()
    pipeline = Pipeline.from_settings(settings)
    first_hash = pipeline.policy_hash
    runner = Runner(settings, pipeline, make_metrics(registry))

    def reloads(result: str) -> float:
        return (
            registry.get_sample_value("interceptor_policy_reloads_total", {"result": result}) or 0
        )

    def policies_of(start: int) -> set[str | None]:
        return {r.header("interceptor-policy") for r in routed.records[start:]}

    try:
        with running(runner):
            produce(raw, valid_messages(20, seed=1))
            routed.until(lambda seen: len(seen) >= 20, 30)
            assert policies_of(0) == {first_hash}

            (policies / "zz-broken.yaml").write_text(BROKEN, encoding="utf-8")
            wait_for(lambda: reloads("rejected") >= 1, 15, "the broken change to be rejected")
            assert runner.progress().policy_hash == first_hash
            produce(raw, valid_messages(20, seed=2))
            routed.until(lambda seen: len(seen) >= 40, 30)
            assert policies_of(20) == {first_hash}, "the last good bundle must stay in force"
            info = registry.get_sample_value("interceptor_policy_info", {"hash": first_hash})
            assert info == 1

            (policies / "zz-broken.yaml").unlink()
            hygiene = policies / "pack-hygiene.yaml"
            text = hygiene.read_text(encoding="utf-8")
            hygiene.write_text(text.replace("title: Remove", "title: Drop"), encoding="utf-8")
            wait_for(lambda: runner.progress().policy_hash != first_hash, 15, "the good change")
            second_hash = runner.progress().policy_hash
            produce(raw, valid_messages(20, seed=3))
            routed.until(lambda seen: len(seen) >= 60, 30)
            assert policies_of(40) == {second_hash}
            assert (
                registry.get_sample_value("interceptor_policy_info", {"hash": first_hash}) is None
            )
            assert registry.get_sample_value("interceptor_policy_info", {"hash": second_hash}) == 1
            assert reloads("accepted") == 1
            assert reloads("rejected") == 1

        audit.until(lambda seen: sum(b'"policy_reload"' in (r.value or b"") for r in seen) >= 2, 10)
    finally:
        routed.close()
        audit.close()
    events = [orjson.loads(r.value or b"{}") for r in audit.records]
    reload_events = [e for e in events if e["kind"] == "policy_reload"]
    assert [e["decision"] for e in reload_events] == ["rejected", "accepted"]
    assert reload_events[0]["policy_hash"] == first_hash
    assert any("zz-broken.yaml" in d for d in reload_events[0]["evidence"]["diagnostics"])
    assert reload_events[1]["policy_hash"] == second_hash
