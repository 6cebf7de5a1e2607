"""The pure pipeline: every record routed once, headers and audit events as DESIGN section 3."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from interceptor.audit import AuditEvent
from interceptor.envelope import OutputRecord, SourceRecord
from interceptor.manifests import ManifestRegistry, load_manifest_dir
from interceptor.pipeline import Pipeline
from interceptor.policy import PolicyWatcher, load_bundle

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "transformations"
SALT = b"unit-test-salt-0123456789"
NOW = 1796122800.0  # 2026-12-01T11:00:00Z

VOCABULARY = """\
categories: [user, user.location, user.location.precise, user.contact, user.contact.address,
  user.contact.address.postal_code, user.behavior, user.behavior.browsing_history,
  user.demographic, user.demographic.language, user.health_and_medical,
  user.government_id, user.government_id.national_identification_number,
  user.authorization, user.authorization.password, user.device, user.device.device_id,
  user.device.ip_address, user.demographic.age_range, user.demographic.gender,
  user.location.sensitive_place]
uses: [marketing, marketing.advertising, marketing.advertising.third_party,
  marketing.advertising.third_party.targeted, marketing.advertising.first_party,
  marketing.advertising.first_party.contextual, marketing.advertising.first_party.targeted,
  marketing.advertising.profiling, essential, essential.fraud_detection]
sets:
  cross_context: [marketing.advertising.third_party, marketing.advertising.profiling]
notice_inventory: {}
"""

RULES = """\
name: unit
rules:
  - id: T-OPT
    title: opted-out consumers are not sold to
    cite: "Cal. Civ. Code 1798.120"
    severity: critical
    when:
      all:
        - transformation.purpose: {in: $cross_context}
        - consent.opt_out_sale_share: {eq: true}
    action: block
  - id: T-GEO
    title: coarsen precise coordinates
    cite: "Cal. Civ. Code 1798.140(w)"
    severity: high
    scope: feature
    when:
      all:
        - feature.type: {eq: geo}
        - feature.geo_cell_km2: {le: 0.999}
    action: {transform: coarsen_geo, decimals: 1}
"""


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "policies"
    directory.mkdir()
    (directory / "vocabulary.yaml").write_text(VOCABULARY)
    (directory / "rules.yaml").write_text(RULES)
    return directory


@pytest.fixture
def pipeline(policy_dir: Path) -> Pipeline:
    return Pipeline(
        bundle=load_bundle(policy_dir),
        manifests=ManifestRegistry(load_manifest_dir(EXAMPLES)),
        entity_salt=SALT,
        watcher=PolicyWatcher(policy_dir, min_interval_s=0.0, quiet_s=0.0),
        transformation_by_topic={"geo.raw": "geo_features"},
    )


def feature_record(entity: str = "u-1", **overrides: object) -> bytes:
    document: dict[str, object] = {
        "entity_id": entity,
        "event_time": "2026-12-01T10:00:00Z",
        "transformation": "interest_segments",
        "version": "7",
        "features": {"top_segment": "diy", "ctr_7d": 0.02, "sessions_7d": 4},
    }
    document.update(overrides)
    return orjson.dumps(document)


def source(value: bytes | None, offset: int, *, topic: str = "features.raw") -> SourceRecord:
    return SourceRecord(
        topic=topic,
        partition=1,
        offset=offset,
        key=b"key-%d" % offset,
        value=value,
        headers=(("traceparent", b"00-abc"),),
    )


def headers(output: OutputRecord) -> dict[str, bytes]:
    return dict(output.headers)


def routed(outputs: list[OutputRecord]) -> list[OutputRecord]:
    return [o for o in outputs if o.destination != "audit"]


def test_each_record_is_routed_once_in_input_order(pipeline: Pipeline) -> None:
    pipeline.consent.apply(b"u-out", orjson.dumps({"opt_out_sale_share": True}))
    batch = [
        source(feature_record(), 10),
        source(b"\xff not utf-8", 11),
        source(feature_record("u-out"), 12),
        source(feature_record(transformation="nobody_registered_this"), 13),
    ]
    result = pipeline.process(batch, now=NOW)
    main = routed(result.outputs)
    assert [o.destination for o in main] == ["clean", "deadletter", "quarantine", "quarantine"]
    assert [headers(o)["interceptor-src-offset"] for o in main] == [b"10", b"11", b"12", b"13"]
    assert result.decisions == {"allow": 1, "deadletter": 1, "block": 2}
    assert result.deadletter_reasons == {"not_utf8": 1}
    assert result.rule_matches[("T-OPT", "block")] == 1
    assert result.rule_matches[("unregistered-transformation", "block")] == 1
    assert headers(main[2])["interceptor-rules"] == b"T-OPT"
    for output in main:
        h = headers(output)
        assert h["interceptor-src-topic"] == b"features.raw"
        assert h["interceptor-src-partition"] == b"1"
        assert h["interceptor-policy"] == pipeline.policy_hash.encode()
        assert output.headers[0] == ("traceparent", b"00-abc")  # upstream headers kept


def test_allowed_and_blocked_records_keep_their_bytes(pipeline: Pipeline) -> None:
    pipeline.consent.apply(b"u-out", orjson.dumps({"opt_out_sale_share": True}))
    allowed, blocked = source(feature_record(), 1), source(feature_record("u-out"), 2)
    outputs = routed(pipeline.process([allowed, blocked], now=NOW).outputs)
    assert (outputs[0].key, outputs[0].value) == (allowed.key, allowed.value)
    assert (outputs[1].key, outputs[1].value) == (blocked.key, blocked.value)


def test_deadletter_keeps_key_value_and_headers_and_says_why(pipeline: Pipeline) -> None:
    bad = source(b'{"entity_id": "u-1", "features": {"a": [1]}}', 5)
    (output,) = pipeline.process([bad], now=NOW).outputs
    assert output.destination == "deadletter"
    assert (output.key, output.value) == (bad.key, bad.value)
    assert output.headers[: len(bad.headers)] == bad.headers
    assert headers(output)["interceptor-decision"] == b"deadletter"
    assert headers(output)["interceptor-error"] == b"missing_field"


def test_transforms_rewrite_only_the_features_they_name(pipeline: Pipeline) -> None:
    value = feature_record(
        transformation="geo_features",
        version="3",
        features={"lat": 37.77493, "lon": -122.41942, "zip3": "941"},
    )
    result = pipeline.process([source(value, 3)], now=NOW)
    clean, audit = result.outputs
    assert clean.destination == "clean"
    assert headers(clean)["interceptor-decision"] == b"transform"
    document = orjson.loads(clean.value or b"")
    assert document["features"] == {"lat": 37.8, "lon": -122.4, "zip3": "941"}
    assert document["entity_id"] == "u-1"
    event = AuditEvent.model_validate_json(audit.value or b"")
    assert event.kind == "decision" and event.decision == "transform"
    assert {r.id for r in event.rules} == {"T-GEO"}


def test_transformation_can_come_from_the_topic_mapping(pipeline: Pipeline) -> None:
    value = orjson.dumps(
        {
            "entity_id": "u-1",
            "event_time": "2026-12-01T10:00:00Z",
            "features": {"lat": 37.8, "lon": -122.4, "zip3": "941"},
        }
    )
    mapped = pipeline.process([source(value, 1, topic="geo.raw")], now=NOW)
    unmapped = pipeline.process([source(value, 2)], now=NOW)
    assert mapped.decisions == {"allow": 1}
    assert unmapped.deadletter_reasons == {"missing_transformation": 1}


def test_unregistered_can_be_dead_lettered_instead(policy_dir: Path) -> None:
    strict = Pipeline(
        bundle=load_bundle(policy_dir),
        manifests=ManifestRegistry(),
        entity_salt=SALT,
        on_unregistered="deadletter",
    )
    result = strict.process([source(feature_record(), 1)], now=NOW)
    assert result.deadletter_reasons == {"unregistered_transformation": 1}


def test_audit_events_hash_the_entity_and_match_the_model(pipeline: Pipeline) -> None:
    pipeline.consent.apply(b"u-secret-42", orjson.dumps({"opt_out_sale_share": True}))
    outputs = pipeline.process([source(feature_record("u-secret-42"), 1)], now=NOW).outputs
    (audit,) = [o for o in outputs if o.destination == "audit"]
    assert b"u-secret-42" not in (audit.value or b"") and b"u-secret-42" not in (audit.key or b"")
    event = AuditEvent.model_validate_json(audit.value or b"")
    assert event.entity is not None and len(event.entity) == 32
    assert event.source is not None and event.source.offset == 1
    assert event.policy_hash == pipeline.policy_hash
    assert event.rules[0].cite == "Cal. Civ. Code 1798.120"


def test_deleted_entities_are_blocked_and_tombstoned_once(pipeline: Pipeline) -> None:
    message = SourceRecord("privacy.consent", 0, 9, b"u-gone", orjson.dumps({"deleted": True}))
    first = pipeline.on_consent(message)
    assert pipeline.on_consent(message) == []
    tombstone, audit = first
    assert (tombstone.destination, tombstone.key, tombstone.value) == ("clean", b"u-gone", None)
    assert AuditEvent.model_validate_json(audit.value or b"").kind == "deletion"
    result = pipeline.process([source(feature_record("u-gone"), 1)], now=NOW)
    assert result.decisions == {"block": 1}
    assert result.rule_matches[("entity-deleted", "block")] == 1


def test_an_evaluation_fault_quarantines_instead_of_forwarding(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("injected fault")

    monkeypatch.setattr(pipeline.bundle.compiled, "decide", explode)
    result = pipeline.process([source(feature_record(), 1), source(b"[]", 2)], now=NOW)
    assert [o.destination for o in routed(result.outputs)] == ["quarantine", "deadletter"]
    assert result.rule_matches[("evaluation-fault", "block")] == 1


def test_failing_open_forwards_flagged_and_says_so_loudly(
    policy_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    lax = Pipeline(
        bundle=load_bundle(policy_dir),
        manifests=ManifestRegistry(load_manifest_dir(EXAMPLES)),
        entity_salt=SALT,
        on_evaluation_error="forward",
    )

    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("injected fault")

    monkeypatch.setattr(lax.bundle.compiled, "decide", explode)
    value = feature_record()
    result = lax.process([source(value, 1), source(b"[]", 2)], now=NOW)
    clean, dead = routed(result.outputs)
    assert (clean.destination, clean.value, dead.destination) == ("clean", value, "deadletter")
    assert headers(clean)["interceptor-decision"] == b"flag"
    assert headers(clean)["interceptor-rules"] == b"evaluation-fault"
    assert result.rule_matches[("evaluation-fault", "flag")] == 1
    (audit,) = [o for o in result.outputs if o.destination == "audit"]
    assert AuditEvent.model_validate_json(audit.value or b"").decision == "flag"
    assert any("FAILING OPEN" in r.getMessage() for r in caplog.records)


def test_the_fallback_routes_a_batch_whose_processing_raised(pipeline: Pipeline) -> None:
    batch = [source(feature_record(), 1), source(b"\xff", 2), source(feature_record(), 3)]
    result = pipeline.fallback(batch, now=NOW)
    assert [o.destination for o in routed(result.outputs)] == [
        "quarantine",
        "deadletter",
        "quarantine",
    ]
    assert result.decisions == {"block": 2, "deadletter": 1}
    assert all(
        headers(o)["interceptor-rules"] == b"evaluation-fault"
        for o in routed(result.outputs)
        if o.destination == "quarantine"
    )


def test_the_fallback_never_raises(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("injected fault")

    monkeypatch.setattr(pipeline, "_fallback_one", explode)
    value = feature_record()
    result = pipeline.fallback([source(value, 1)], now=NOW)
    (out,) = result.outputs
    assert (out.destination, out.value) == ("quarantine", value)
    assert headers(out)["interceptor-src-offset"] == b"1"
    assert headers(out)["interceptor-policy"] == pipeline.policy_hash.encode()


def test_registry_messages_register_and_audit(pipeline: Pipeline) -> None:
    text = (EXAMPLES / "identity_signals.yaml").read_bytes().replace(b'"1"', b'"9"', 1)
    message = SourceRecord("interceptor.transformations", 0, 0, b"identity_signals:9", text)
    (event_output,) = pipeline.on_manifest(message)
    event = AuditEvent.model_validate_json(event_output.value or b"")
    assert (event.kind, event.transformation, event.version) == (
        "registration",
        "identity_signals",
        "9",
    )
    assert pipeline.manifests.resolve("identity_signals", "9") is not None
    broken = SourceRecord("interceptor.transformations", 0, 1, b"x:1", b"id: [")
    (rejected,) = pipeline.on_manifest(broken)
    assert AuditEvent.model_validate_json(rejected.value or b"").decision == "rejected"
    gone = SourceRecord("interceptor.transformations", 0, 2, b"identity_signals:9", None)
    assert pipeline.on_manifest(gone) == []
    assert pipeline.manifests.resolve("identity_signals", "9") is None


def test_a_broken_policy_change_keeps_the_last_good_bundle(
    pipeline: Pipeline, policy_dir: Path
) -> None:
    good_hash = pipeline.policy_hash
    (policy_dir / "rules.yaml").write_text(RULES.replace("action: block", "action: blokc"))
    time.sleep(0.01)
    rejected = pipeline.poll_policy()
    assert rejected is not None and not rejected.accepted
    assert rejected.diagnostics and "rules.yaml:" in rejected.diagnostics[0]
    assert pipeline.policy_hash == good_hash
    (policy_dir / "rules.yaml").write_text(RULES.replace("severity: high", "severity: medium"))
    time.sleep(0.01)
    accepted = pipeline.poll_policy()
    assert accepted is not None and accepted.accepted
    assert pipeline.policy_hash != good_hash
    event = AuditEvent.model_validate_json(accepted.outputs[0].value or b"")
    assert event.kind == "policy_reload" and event.policy_hash == pipeline.policy_hash


def test_a_replayed_record_loses_its_stale_interceptor_headers(pipeline: Pipeline) -> None:
    stale = (("interceptor-decision", b"block"), ("interceptor-rules", b"T-OPT"), ("trace", b"1"))
    replayed = source(feature_record(), 1)._replace(headers=stale)
    (clean,) = pipeline.process([replayed], now=NOW).outputs
    names = [name for name, _ in clean.headers]
    assert names.count("interceptor-decision") == 1
    assert headers(clean)["interceptor-decision"] == b"allow"
    assert clean.headers[0] == ("trace", b"1")
    # The dead-letter topic still gets the original headers byte for byte.
    broken = replayed._replace(value=b"[]")
    (dead,) = pipeline.process([broken], now=NOW).outputs
    assert dead.headers[:3] == stale


def test_a_rule_counts_once_per_record_however_many_features_it_hit(pipeline: Pipeline) -> None:
    value = feature_record(
        transformation="geo_features",
        version="3",
        features={"lat": 37.77493, "lon": -122.41942, "zip3": "941"},
    )
    result = pipeline.process([source(value, 1), source(value, 2)], now=NOW)
    assert result.rule_matches[("T-GEO", "transform")] == 2


def test_a_record_on_a_mapped_topic_cannot_choose_another_transformation(
    pipeline: Pipeline,
) -> None:
    value = feature_record()  # names interest_segments; geo.raw is mapped to geo_features
    result = pipeline.process([source(value, 1, topic="geo.raw")], now=NOW)
    assert result.decisions == {"block": 1}
    assert result.rule_matches[("transformation-mismatch", "block")] == 1


def test_a_registry_key_must_name_the_manifest_it_carries(pipeline: Pipeline) -> None:
    text = (EXAMPLES / "identity_signals.yaml").read_bytes()
    message = SourceRecord("interceptor.transformations", 0, 0, b"geo_features:3", text)
    (rejected,) = pipeline.on_manifest(message)
    assert AuditEvent.model_validate_json(rejected.value or b"").decision == "rejected"
    assert pipeline.manifests.resolve("geo_features", "3") is not None  # untouched
