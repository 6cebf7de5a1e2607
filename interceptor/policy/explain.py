"""Why one record got its decision: every rule that took effect, and the conditions behind it.

The decision itself comes from the compiled batch path (a batch of one); the ``why`` of each rule is
a slow per-rule walk over the same compiled tree, reading the values that record presented.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from interceptor.consent import ConsentState
from interceptor.manifests import Manifest
from interceptor.policy.batch import ActionCode, ProxyReading, RuleHit
from interceptor.policy.compiled import Match
from interceptor.policy.engine import CompiledPolicy
from interceptor.policy.facts import FeatureFacts
from interceptor.policy.frame import Frame, View
from interceptor.policy.loader import PolicyBundle
from interceptor.policy.nodes import jsonable
from interceptor.policy.oneshot import apply_edits, batch_of_one
from interceptor.policy.resolve import apply_exemptions, resolve
from interceptor.records import FeatureRecord

__all__ = ["explain"]


def _view(compiled: CompiledPolicy, frame: Frame, feature: str | None) -> View:
    """The single-row view a rule was evaluated on (the record, or the record's feature)."""
    batch = frame.batch
    plan = compiled.plan(batch.manifests[0])
    rows = np.zeros(1, dtype=np.intp)
    if feature is None:
        return View(frame, rows, facts=plan.facts)
    facts = FeatureFacts.of(plan.manifest, feature)
    proxy = batch.proxy.get((plan.manifest.id, feature))
    return View(frame, rows, facts=plan.facts, feature=facts, proxy=proxy)


def _rule_entry(compiled: CompiledPolicy, frame: Frame, hit: RuleHit) -> dict[str, Any]:
    rule = compiled.rules[hit.rule_id]
    _, reasons = rule.node.why(_view(compiled, frame, hit.feature), 0)
    entry: dict[str, Any] = {
        "id": hit.rule_id,
        "title": rule.rule.title,
        "action": hit.action,
        "severity": hit.severity,
        "cite": hit.cite,
    }
    if hit.feature is not None:
        entry["feature"] = hit.feature
    entry["why"] = reasons
    return entry


def _exempted(matches: list[Match], removed: list[Match]) -> list[dict[str, Any]]:
    entries = []
    for match in removed:
        by = sorted({m.rule.id for m in matches if match.rule.id in m.rule.rule.exempts})
        entry: dict[str, Any] = {"id": match.rule.id, "action": match.rule.rule.action_label}
        if match.feature is not None:
            entry["feature"] = match.feature
        entry["by"] = by
        entries.append(entry)
    return entries


def explain(
    bundle: PolicyBundle,
    manifest: Manifest,
    record: FeatureRecord,
    consent: ConsentState | None,
    *,
    now: float | None = None,
    proxy: Mapping[str, ProxyReading] | None = None,
    hash_key: bytes = b"",
) -> dict[str, Any]:
    """The decision for one record as JSON-ready data; ``proxy`` is keyed by feature name."""
    compiled = bundle.compiled
    when = time.time() if now is None else now
    batch = batch_of_one(manifest, record, consent, now=when, proxy=proxy)
    matches = compiled.match(batch)
    decision = resolve(matches, batch, hash_key=hash_key)
    _, removed = apply_exemptions(matches, 1)
    frame = Frame(batch, [compiled.plan(manifest).facts])
    edits = decision.edits[0]
    return {
        "decision": ActionCode(int(decision.action[0])).label,
        "policy_hash": bundle.hash,
        "transformation": {"id": manifest.id, "version": manifest.version},
        "now": when,
        "rules": [_rule_entry(compiled, frame, hit) for hit in decision.hits[0]],
        "exempted": _exempted(matches, removed),
        "features_out": {k: jsonable(v) for k, v in apply_edits(record.features, edits).items()},
        "edits": [
            {"feature": e.feature, "op": e.op}
            | ({"value": jsonable(e.value)} if e.op == "replace" else {})
            for e in edits
        ],
    }
