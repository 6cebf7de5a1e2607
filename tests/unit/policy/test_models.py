"""Rules are data: every valid rule dumps to YAML that loads back to an equal rule."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from interceptor.policy import Rule
from interceptor.policy.conditions import (
    AllOf,
    AnyOf,
    Leaf,
    NotOf,
    SetRef,
    dump_condition,
    parse_condition,
)

LEAVES: list[dict[str, Any]] = [
    {"consent.gpc": {"eq": True}},
    {"consent.age": {"lt": 16}},
    {"consent.age": {"exists": False}},
    {"record.age_days": {"gt": 395.5}},
    {"record.event_time": {"lt": "2026-01-01T00:00:00Z"}},
    {"record.entity_id": {"matches": "test-[0-9]+"}},
    {"context.campaign_category": {"in": "$hec"}},
    {"context.session_only": {"ne": False}},
    {"context.score": {"in": [1, 2.5, "x", True]}},
    {"transformation.purpose": {"not_in": ["essential", "marketing.advertising"]}},
    {"transformation.input_categories": {"subset_of": "$spi"}},
    {"transformation.output_categories": {"eq": "user.location"}},
    {"transformation.id": {"eq": "geo_features"}},
]
FEATURE_LEAVES: list[dict[str, Any]] = [
    {"feature.type": {"eq": "geo"}},
    {"feature.geo_cell_km2": {"le": 0.999}},
    {"feature.categories": {"intersects": ["user.location.precise"]}},
    {"feature.proxy.flagged": {"eq": True}},
    {"feature.value": {"exists": True}},
]


def trees(leaves: list[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        st.sampled_from(leaves),
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=3).map(lambda items: {"all": items}),
            st.lists(inner, min_size=1, max_size=3).map(lambda items: {"any": items}),
            inner.map(lambda item: {"not": item}),
        ),
        max_leaves=6,
    )


TRANSFORMS = [
    {"transform": "coarsen_geo"},
    {"transform": "coarsen_geo", "geohash": 6, "decimals": 2},
    {"transform": "generalize", "bins": [0, 18, 25.5, 65]},
    {"transform": "generalize", "keep_chars": 3},
    {"transform": "hash", "digest_bytes": 32},
]


@st.composite
def rules(draw: st.DrawFn) -> dict[str, Any]:
    scope = draw(st.sampled_from(["record", "feature"]))
    leaves = LEAVES + (FEATURE_LEAVES if scope == "feature" else [])
    actions: list[Any] = ["block", "flag", "allow"]
    if scope == "feature":
        actions += ["redact", *TRANSFORMS]
    action = draw(st.sampled_from(actions))
    data: dict[str, Any] = {
        "id": draw(st.from_regex(r"[A-Z]{2,5}-[0-9]{1,3}[A-Z]?", fullmatch=True)),
        "title": draw(st.text(min_size=1, max_size=30).filter(str.strip)),
        "cite": "Cal. Civ. Code 1798.120(a)",
        "severity": draw(st.sampled_from(["critical", "high", "medium", "low", "info"])),
        "scope": scope,
        "when": draw(trees(leaves)),
        "action": action,
    }
    if action == "allow" and draw(st.booleans()):
        data["exempts"] = ["CCPA-07", "AD-02"]
    if draw(st.booleans()):
        data["description"] = draw(st.text(max_size=60))
    return data


@given(rules())
def test_rules_round_trip_through_yaml(data: dict[str, Any]) -> None:
    rule = Rule.model_validate(data)
    dumped = yaml.safe_dump(rule.model_dump(mode="json", exclude_defaults=True), sort_keys=False)
    assert Rule.model_validate(yaml.safe_load(dumped)) == rule


@given(trees(LEAVES + FEATURE_LEAVES))
def test_conditions_dump_to_what_they_were_parsed_from(data: dict[str, Any]) -> None:
    condition, problems = parse_condition(data)
    assert problems == [] and condition is not None
    assert dump_condition(condition) == data


def test_the_tree_is_typed() -> None:
    condition, _ = parse_condition(
        {"all": [{"consent.gpc": {"eq": True}}, {"not": {"context.x": {"in": "$hec"}}}]}
    )
    assert condition == AllOf(
        (Leaf("consent.gpc", "eq", True), NotOf(Leaf("context.x", "in", SetRef("hec"))))
    )
    assert isinstance(parse_condition({"any": [{"consent.gpc": {"eq": True}}]})[0], AnyOf)


@pytest.mark.parametrize(
    "when",
    [{}, {"all": [], "any": []}, {"consent.gpc": {"eq": True}, "consent.gpc ": {"eq": True}}],
)
def test_conditions_need_exactly_one_key(when: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Rule.model_validate(
            {
                "id": "R-1",
                "title": "t",
                "cite": "c",
                "severity": "low",
                "when": when,
                "action": "flag",
            }
        )
