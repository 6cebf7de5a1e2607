"""The static verdict: what a manifest alone decides, before any record arrives."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from interceptor.manifests import Manifest, parse_manifest
from interceptor.policy import PolicyBundle
from interceptor.policy.vocabulary import check_manifest_vocabulary, undisclosed_categories
from tests.unit.policy.helpers import GEO, OPT_OUT_RULE

RULES = (
    OPT_OUT_RULE
    + """
- id: SPI-INPUTS
  title: precise location read for third-party ads
  cite: c
  severity: critical
  scope: transformation
  when:
    all:
      - transformation.input_categories: {intersects: $spi}
      - transformation.purpose: {in: $ads_cross_context}
  action: block
- id: UNDISCLOSED
  title: categories the notice does not cover for this purpose
  cite: c
  severity: high
  scope: transformation
  when: {transformation.undisclosed_categories: {exists: true}}
  action: flag
- id: ZIP
  title: zip3 is generalized
  cite: c
  severity: medium
  scope: feature
  when:
    all:
      - feature.categories: {intersects: [user.contact]}
      - feature.type: {eq: categorical}
  action: {transform: generalize, keep_chars: 2}
- id: PROXY
  title: flagged proxies
  cite: c
  severity: low
  scope: feature
  when: {feature.proxy.flagged: {eq: true}}
  action: flag
- id: FRAUD-OK
  title: fraud detection may read precise location
  cite: c
  severity: info
  scope: transformation
  when: {transformation.purpose: {in: [essential]}}
  action: allow
  exempts: [UNDISCLOSED]
"""
)


@pytest.fixture
def bundle(bundle_of: Callable[[str], PolicyBundle]) -> PolicyBundle:
    return bundle_of(RULES)


def test_manifest_only_rules_decide_statically(bundle: PolicyBundle, geo: Manifest) -> None:
    verdict = bundle.judge_transformation(geo)
    assert verdict.decision == "block"
    hits = [(hit.rule_id, hit.feature) for hit in verdict.hits]
    assert hits == [("SPI-INPUTS", None), ("ZIP", "zip3")]
    assert verdict.conditional == ("OPT-OUT", "PROXY")


def test_static_exemptions_apply(bundle: PolicyBundle, fraud: Manifest) -> None:
    assert undisclosed_categories(fraud, bundle.vocabulary) == {"user.location.precise"}
    verdict = bundle.judge_transformation(fraud)
    assert [hit.rule_id for hit in verdict.hits] == ["FRAUD-OK"]
    assert verdict.exempted == ("UNDISCLOSED",)
    assert verdict.decision == "allow"


def test_a_clean_manifest_is_allowed(bundle: PolicyBundle, contextual: Manifest) -> None:
    verdict = bundle.judge_transformation(contextual)
    assert verdict.decision == "allow"
    assert verdict.hits == ()
    assert verdict.conditional == ("PROXY",)  # OPT-OUT cannot hold for a first-party purpose


def test_undisclosed_follows_the_notice_inventory_hierarchically(bundle: PolicyBundle) -> None:
    # user.location covers user.location.precise; marketing.advertising covers the purpose;
    # user.behavior is disclosed for first-party ads only, not third-party ones
    manifest = parse_manifest(GEO.replace("user.contact.address.postal_code", "user.behavior"), "g")
    assert undisclosed_categories(manifest, bundle.vocabulary) == {"user.behavior"}
    geo = parse_manifest(GEO, "g")
    assert undisclosed_categories(geo, bundle.vocabulary) == frozenset()


def test_verdicts_follow_a_new_manifest_version(bundle: PolicyBundle, geo: Manifest) -> None:
    assert bundle.judge_transformation(geo).decision == "block"
    safer = parse_manifest(
        GEO.replace("user.location.precise", "user.location.imprecise"), "geo-v3-edited"
    )
    assert safer.key == geo.key  # same id and version, different content: not a stale plan
    assert bundle.judge_transformation(safer).decision == "transform"


def test_manifest_vocabulary_check(bundle: PolicyBundle, geo: Manifest) -> None:
    assert check_manifest_vocabulary(geo, bundle.vocabulary) == []
    odd = parse_manifest(
        GEO.replace("marketing.advertising.third_party.targeted", "marketing.telepathy").replace(
            "user.contact.address.postal_code", "user.aura"
        ),
        "odd",
    )
    assert check_manifest_vocabulary(odd, bundle.vocabulary) == [
        "geo_features@3: purpose 'marketing.telepathy' is not a known data use",
        "geo_features@3: input 'event.zip' has unknown data category 'user.aura'",
    ]
