"""Policy hot reload while running: a broken change is rejected, a good one adopted."""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from prometheus_client import CollectorRegistry

from interceptor.config import Settings
from interceptor.metrics import make_metrics
from interceptor.pipeline import Pipeline
from interceptor.policy import load_bundle
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


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_alternating_good_and_broken_bundles_under_load(
    settings_factory: Callable[..., Settings],
    create_topics: Callable[[Settings], None],
    produce: Callable[..., None],
    tmp_path: Path,
) -> None:
    """While records flow, the policy directory cycles: bundle A, broken, bundle B, broken, A...
    B differs from A in two files, written one after the other (the half-done state is a valid
    bundle of its own, with its own hash). Every decision must name A's or B's hash, never the
    half-done one's, and every accepted reload must be A or B."""
    policies = tmp_path / "policies"
    shutil.copytree(REPO / "policies", policies, ignore=shutil.ignore_patterns("tests"))
    first, second = policies / "ccpa-spi.yaml", policies / "ccpa-minors.yaml"
    edits = [(first, "title: ", "title: (B) "), (second, "title: ", "title: (B) ")]

    def bundle_hash(*applied: tuple[Path, str, str]) -> str:
        scratch = tmp_path / f"scratch-{len(applied)}"
        shutil.copytree(policies, scratch)
        for path, old, new in applied:
            _edit(scratch / path.name, old, new)
        return load_bundle(scratch).hash

    hash_a, hash_half, hash_b = bundle_hash(), bundle_hash(edits[0]), bundle_hash(*edits)
    assert len({hash_a, hash_half, hash_b}) == 3
    settings = settings_factory(policies={"path": str(policies), "reload_interval_ms": 100})
    create_topics(settings)
    t = settings.topics
    raw = t.inputs[0]
    routed = TopicTail(settings.kafka.bootstrap_servers, [t.clean, t.quarantine])
    audit = TopicTail(settings.kafka.bootstrap_servers, [t.audit])
    registry = CollectorRegistry()
    runner = Runner(settings, Pipeline.from_settings(settings), make_metrics(registry))
    stop = threading.Event()
    sent = 0

    def stream() -> None:
        nonlocal sent
        seed = 0
        while not stop.is_set():
            produce(raw, valid_messages(100, seed=seed))
            sent += 100
            seed += 1
            time.sleep(0.05)

    def cycle() -> None:
        """A, broken, B, broken, A: each state held 2 s (the watcher waits for 1 s of quiet);
        B's two files 0.3 s apart."""
        for step in range(5):
            if step % 2 == 1:
                (policies / "zz-broken.yaml").write_text(BROKEN, encoding="utf-8")
            else:
                (policies / "zz-broken.yaml").unlink(missing_ok=True)
                for path, old, new in edits if step else ():
                    _edit(path, old, new) if step == 2 else _edit(path, new, old)
                    time.sleep(0.3)
            time.sleep(2.0)
        (policies / "zz-broken.yaml").unlink(missing_ok=True)

    try:
        with running(runner):
            streamer = threading.Thread(target=stream, daemon=True)
            streamer.start()
            routed.until(lambda seen: len(seen) >= 100, 30)
            cycle()
            stop.set()
            streamer.join(10)
            routed.until(lambda seen: len(seen) >= sent, 30)
        before = -1
        while before != len(audit.records):  # read the audit topic until it has no more
            before = len(audit.records)
            audit.poll(1.0)
    finally:
        routed.close()
        audit.close()
    in_outputs = Counter(r.header("interceptor-policy") for r in routed.records)
    assert set(in_outputs) <= {hash_a, hash_b}, in_outputs
    events = [orjson.loads(r.value or b"{}") for r in audit.records]
    reloads = [e for e in events if e["kind"] == "policy_reload"]
    assert all(e["policy_hash"] in (hash_a, hash_b) for e in events if e.get("policy_hash"))
    accepted = [e for e in reloads if e["decision"] == "accepted"]
    assert accepted and any(e["decision"] == "rejected" for e in reloads)
    assert hash_half not in {e.get("policy_hash") for e in events}
    print(f"decisions by bundle: {dict(in_outputs)}; reloads: {[e['decision'] for e in reloads]}")
