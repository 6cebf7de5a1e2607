"""explain: the batch decision for one record, with the leaf conditions and values behind it."""

from __future__ import annotations

from collections.abc import Callable

import orjson

from interceptor.consent import ConsentState
from interceptor.manifests import Manifest
from interceptor.policy import PolicyBundle, ProxyReading, explain
from interceptor.records import FeatureRecord
from tests.unit.policy.helpers import NOW

RULES = """
- id: OPT-OUT
  title: opted out
  cite: "1798.120"
  severity: critical
  when:
    all:
      - transformation.purpose: {in: $ads_cross_context}
      - any:
          - consent.opt_out_sale_share: {eq: true}
          - consent.gpc: {eq: true}
  action: block
- id: CONTEXTUAL
  title: session-only carve-out
  cite: "1798.140(t)"
  severity: info
  when:
    all:
      - context.session_only: {eq: true}
      - not: {consent.deleted: {eq: true}}
  action: allow
  exempts: [OPT-OUT]
- id: GEO
  title: coarsen precise geo
  cite: "1798.140(w)"
  severity: high
  scope: feature
  when:
    all:
      - feature.type: {eq: geo}
      - feature.geo_cell_km2: {le: 1}
  action: {transform: coarsen_geo}
- id: PROXY
  title: flagged proxy
  cite: AD-05
  severity: low
  scope: feature
  when: {feature.proxy.status: {in: [review, proxy]}}
  action: flag
"""


def record(**context: object) -> FeatureRecord:
    return FeatureRecord.model_validate(
        {
            "entity_id": "u-1",
            "event_time": "2026-12-01T11:00:00Z",
            "transformation": "geo_features",
            "version": "3",
            "features": {"lat": 37.77493, "zip3": "941"},
            "context": context,
        }
    )


def test_explain_names_each_rule_and_why(
    bundle_of: Callable[[str], PolicyBundle], geo: Manifest
) -> None:
    bundle = bundle_of(RULES)
    result = explain(
        bundle,
        geo,
        record(),
        ConsentState(gpc=True),
        now=NOW,
        proxy={"zip3": ProxyReading(0.4, True, "proxy")},
    )
    orjson.dumps(result)  # JSON-ready
    assert result["decision"] == "block"
    assert result["policy_hash"] == bundle.hash
    assert [(r["id"], r.get("feature")) for r in result["rules"]] == [
        ("GEO", "lat"),
        ("OPT-OUT", None),
        ("PROXY", "zip3"),
    ]
    opt_out = result["rules"][1]
    assert opt_out["cite"] == "1798.120" and opt_out["severity"] == "critical"
    assert opt_out["why"] == [
        {
            "subject": "transformation.purpose",
            "op": "in",
            "expected": "$ads_cross_context",
            "actual": "marketing.advertising.third_party.targeted",
            "holds": True,
            "set": ["marketing.advertising.third_party"],
        },
        {"subject": "consent.gpc", "op": "eq", "expected": True, "actual": True, "holds": True},
    ]
    geo_why = result["rules"][0]["why"]
    assert geo_why[1]["subject"] == "feature.geo_cell_km2" and geo_why[1]["actual"] < 1
    assert result["rules"][2]["why"][0]["actual"] == "proxy"
    assert result["features_out"] == {"lat": 37.8, "zip3": "941"}
    assert result["edits"] == [{"feature": "lat", "op": "replace", "value": 37.8}]
    assert result["exempted"] == []


def test_explain_lists_exempted_rules_and_negated_leaves(
    bundle_of: Callable[[str], PolicyBundle], geo: Manifest
) -> None:
    result = explain(
        bundle_of(RULES), geo, record(session_only=True), ConsentState(gpc=True), now=NOW
    )
    assert result["decision"] == "transform"
    assert result["exempted"] == [{"id": "OPT-OUT", "action": "block", "by": ["CONTEXTUAL"]}]
    carve_out = next(r for r in result["rules"] if r["id"] == "CONTEXTUAL")
    assert carve_out["why"] == [
        {
            "subject": "consent.deleted",
            "op": "eq",
            "expected": True,
            "actual": False,
            "holds": False,
        },
        {
            "subject": "context.session_only",
            "op": "eq",
            "expected": True,
            "actual": True,
            "holds": True,
        },
    ]


def test_unknown_consent_and_missing_context_show_as_null(
    bundle_of: Callable[[str], PolicyBundle], geo: Manifest
) -> None:
    unknown = """
- id: UNKNOWN
  title: nothing known about this consumer or campaign
  cite: c
  severity: info
  when:
    all:
      - consent.age: {exists: false}
      - context.campaign_category: {ne: housing}
  action: allow
"""
    result = explain(bundle_of(RULES + unknown), geo, record(), None, now=NOW)
    assert result["decision"] == "transform"
    assert [r["id"] for r in result["rules"]] == ["GEO", "UNKNOWN"]
    assert [(w["subject"], w["actual"]) for w in result["rules"][1]["why"]] == [
        ("consent.age", None),
        ("context.campaign_category", None),
    ]
