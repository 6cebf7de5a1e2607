"""Exemptions first, then the most restrictive action; nothing depends on rule or file order."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from interceptor.consent import ConsentState
from interceptor.manifests import Manifest, parse_manifest
from interceptor.policy import ActionCode, BatchDecision, load_bundle
from interceptor.scalars import Scalar
from tests.unit.policy.conftest import BundleFactory
from tests.unit.policy.helpers import (
    CONTEXTUAL,
    GEO,
    OPT_OUT_RULE,
    VOCABULARY,
    Row,
    make_batch,
    rules_yaml,
)

RULES = [
    OPT_OUT_RULE,
    """
- id: CONTEXTUAL
  title: session-only carve-out
  cite: c
  severity: info
  when: {context.session_only: {eq: true}}
  action: allow
  exempts: [OPT-OUT, GEO-TAG]
""",
    """
- id: GEO-COARSEN
  title: coarsen precise geo
  cite: c
  severity: high
  scope: feature
  when:
    all:
      - feature.type: {eq: geo}
      - feature.geo_cell_km2: {le: 1}
  action: {transform: coarsen_geo, decimals: 1, geohash: 5}
""",
    """
- id: GEO-HASH
  title: hash precise geo (loses to GEO-COARSEN by id)
  cite: c
  severity: high
  scope: feature
  when: {feature.geo_cell_km2: {le: 1}}
  action: {transform: hash}
""",
    """
- id: GEO-TAG
  title: flag every geo feature
  cite: c
  severity: low
  scope: feature
  when: {feature.type: {eq: geo}}
  action: flag
""",
    """
- id: ZIP-REDACT
  title: redact zip for minors
  cite: c
  severity: high
  scope: feature
  when:
    all:
      - feature.name: {eq: zip3}
      - consent.age: {lt: 16}
  action: redact
""",
    """
- id: ZIP-GENERALIZE
  title: generalize zip
  cite: c
  severity: medium
  scope: feature
  when: {feature.name: {eq: zip3}}
  action: {transform: generalize, keep_chars: 2}
""",
    """
- id: UNDECLARED
  title: undeclared features are removed
  cite: c
  severity: high
  scope: feature
  when: {feature.declared: {eq: false}}
  action: redact
""",
    """
- id: DELETED
  title: deleted consumers
  cite: c
  severity: critical
  scope: feature
  when:
    all:
      - consent.deleted: {eq: true}
      - feature.name: {eq: lat}
  action: block
""",
]


def rows(geo: Manifest, contextual: Manifest) -> list[Row]:
    return [
        Row(geo, {"lat": 37.77493, "lon": -122.41942, "zip3": "941"}),
        Row(geo, {"lat": 37.8, "zip3": "941"}, consent=ConsentState(opt_out_sale_share=True)),
        Row(
            geo,
            {"lat": 37.77493, "zip3": "941"},
            {"session_only": True},
            ConsentState(opt_out_sale_share=True, age=14),
        ),
        Row(geo, {"geohash": "9q8yyk", "extra": 1}, consent=ConsentState(deleted=True)),
        Row(geo, {"lat": 37.77493}, consent=ConsentState(deleted=True)),
        Row(contextual, {"page_category": "news", "extra": "x"}, {"session_only": True}),
    ]


def summary(decision: BatchDecision) -> list[tuple[str, list[str], list[tuple[str, str, Any]]]]:
    return [
        (
            ActionCode(int(code)).label,
            [h.rule_id + (f"[{h.feature}]" if h.feature else "") for h in hits],
            [(e.feature, e.op, e.value) for e in edits],
        )
        for code, hits, edits in zip(decision.action, decision.hits, decision.edits, strict=True)
    ]


def test_precedence_exemptions_and_edits(
    write_bundle: BundleFactory, geo: Manifest, contextual: Manifest
) -> None:
    bundle = load_bundle(write_bundle({"rules.yaml": rules_yaml("".join(RULES))}))
    result = summary(bundle.compiled.decide(make_batch(rows(geo, contextual))))
    assert result[0] == (
        "transform",
        [
            "GEO-COARSEN[lat]",
            "GEO-COARSEN[lon]",
            "GEO-HASH[lat]",
            "GEO-HASH[lon]",
            "GEO-TAG[lat]",
            "GEO-TAG[lon]",
            "ZIP-GENERALIZE[zip3]",
        ],
        [("lat", "replace", 37.8), ("lon", "replace", -122.4), ("zip3", "replace", "94")],
    )
    # 37.8 is already coarse: no geo transform, but the opt-out blocks the whole record
    assert result[1][0] == "block"
    assert result[1][1] == ["GEO-TAG[lat]", "OPT-OUT", "ZIP-GENERALIZE[zip3]"]
    # the carve-out lifts OPT-OUT and GEO-TAG (all features); redact beats transform on zip3
    assert result[2] == (
        "redact",
        [
            "CONTEXTUAL",
            "GEO-COARSEN[lat]",
            "GEO-HASH[lat]",
            "ZIP-GENERALIZE[zip3]",
            "ZIP-REDACT[zip3]",
        ],
        [("lat", "replace", 37.8), ("zip3", "redact", None)],
    )
    # a feature-scope block blocks the record only through the feature it names
    assert result[3][0] == "redact"
    assert result[3][2] == [("extra", "redact", None), ("geohash", "replace", "9q8yy")]
    assert result[4][0] == "block"
    assert "DELETED[lat]" in result[4][1]
    # an undeclared feature of another manifest; the carve-out exempts nothing that hit here
    assert result[5] == ("redact", ["CONTEXTUAL", "UNDECLARED[extra]"], [("extra", "redact", None)])


def test_record_action_is_the_maximum_of_surviving_hits(
    write_bundle: BundleFactory, geo: Manifest, contextual: Manifest
) -> None:
    bundle = load_bundle(write_bundle({"rules.yaml": rules_yaml("".join(RULES))}))
    decision = bundle.compiled.decide(make_batch(rows(geo, contextual)))
    order = {"allow": 0, "flag": 1, "transform": 2, "redact": 3, "block": 4}
    for code, hits in zip(decision.action.tolist(), decision.hits, strict=True):
        assert code == max((order[h.action] for h in hits), default=0)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), files=st.integers(1, len(RULES)))
def test_shuffling_rules_and_files_never_changes_a_decision(
    tmp_path_factory: Any, seed: int, files: int
) -> None:
    geo, contextual = parse_manifest(GEO, "g"), parse_manifest(CONTEXTUAL, "c")
    baseline_root = tmp_path_factory.mktemp("base")
    shuffled_root = tmp_path_factory.mktemp("shuffled")
    rng = random.Random(seed)
    shuffled = RULES[:]
    rng.shuffle(shuffled)
    for root, chunks in ((baseline_root, [RULES]), (shuffled_root, split(shuffled, files, rng))):
        (Path(root) / "vocabulary.yaml").write_text(VOCABULARY)
        for i, chunk in enumerate(chunks):
            name = f"{rng.randrange(10**6):06d}-{i}.yaml"
            (Path(root) / name).write_text(rules_yaml("".join(chunk)))
    batch_rows = rows(geo, contextual)
    rng.shuffle(batch_rows)
    batch = make_batch(batch_rows)
    base = load_bundle(Path(baseline_root)).compiled.decide(batch)
    other = load_bundle(Path(shuffled_root)).compiled.decide(batch)
    assert np.array_equal(base.action, other.action)
    assert list(base.hits) == list(other.hits)
    assert list(base.edits) == list(other.edits)


def split(items: list[str], parts: int, rng: random.Random) -> list[list[str]]:
    cuts = sorted(rng.sample(range(1, len(items)), parts - 1)) if parts > 1 else []
    bounds = [0, *cuts, len(items)]
    return [items[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


ACTIONS = ["allow", "flag", "block"]


@settings(max_examples=40, deadline=None)
@given(
    chosen=st.lists(
        st.tuples(st.sampled_from(ACTIONS), st.booleans(), st.booleans()), min_size=1, max_size=6
    )
)
def test_precedence_is_the_maximum_over_matching_rules(
    tmp_path_factory: Any, chosen: list[tuple[str, bool, bool]]
) -> None:
    """Rules with random actions on gpc/limit_spi: the action is the max of those that match."""
    root = Path(tmp_path_factory.mktemp("max"))
    (root / "vocabulary.yaml").write_text(VOCABULARY)
    body = "".join(
        f"""
- id: R-{i}
  title: t
  cite: c
  severity: low
  when: {{{"consent.gpc" if on_gpc else "consent.limit_spi"}: {{eq: {str(value).lower()}}}}}
  action: {action}
"""
        for i, (action, on_gpc, value) in enumerate(chosen)
    )
    (root / "rules.yaml").write_text(rules_yaml(body))
    geo = parse_manifest(GEO, "g")
    states = [ConsentState(gpc=g, limit_spi=s) for g in (False, True) for s in (False, True)]
    decision = load_bundle(root).compiled.decide(make_batch([Row(geo, consent=c) for c in states]))
    order = {"allow": 0, "flag": 1, "block": 4}
    for state, code in zip(states, decision.action.tolist(), strict=True):
        matching = [
            order[action]
            for action, on_gpc, value in chosen
            if (state.gpc if on_gpc else state.limit_spi) is value
        ]
        assert code == max(matching, default=0)


def test_records_with_more_than_64_distinct_hits(
    bundle_of: Any, geo: Manifest, contextual: Manifest
) -> None:
    bundle = bundle_of(
        """
        - id: EXTRA
          title: undeclared features are flagged
          cite: c
          severity: low
          scope: feature
          when: {feature.declared: {eq: false}}
          action: flag
        """
    )
    many: dict[str, Scalar] = {f"f{i:03d}": i for i in range(70)}
    some: dict[str, Scalar] = {f"f{i:03d}": i for i in range(0, 70, 7)}
    batch = make_batch(
        [Row(geo, many), Row(contextual, some), Row(geo, {"lat": 38}), Row(geo, many)]
    )
    hits = bundle.compiled.decide(batch).hits
    assert [h.feature for h in hits[0]] == sorted(many)
    assert [h.feature for h in hits[1]] == sorted(some)
    assert hits[2] == ()
    assert hits[3] == hits[0]


def test_empty_batches_and_batches_of_one_manifest(bundle_of: Any, geo: Manifest) -> None:
    bundle = bundle_of(RULES[0])
    empty = make_batch([])
    decision = bundle.compiled.decide(empty)
    assert (
        decision.action.shape == (0,) and list(decision.hits) == [] and list(decision.edits) == []
    )
    one = make_batch([Row(geo, consent=ConsentState(opt_out_sale_share=True))])
    assert bundle.compiled.decide(one).action.tolist() == [int(ActionCode.BLOCK)]
