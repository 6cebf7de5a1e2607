"""Operator semantics: nulls, strict types, hierarchical taxonomy keys; one value or a column."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from interceptor.consent import ConsentState
from interceptor.policy.columns import NumberColumn, ValueColumn
from interceptor.policy.conditions import Leaf, SetRef, parse_condition
from interceptor.policy.predicates import LeafCheck, compile_leaf
from interceptor.policy.vocabulary import Vocabulary, parse_vocabulary
from interceptor.scalars import Scalar
from tests.unit.policy.helpers import VOCABULARY, Row, make_batch

VOCAB, _ = parse_vocabulary(VOCABULARY, "vocabulary.yaml")
assert VOCAB is not None


def check(subject: str, op: str, value: Any, vocabulary: Vocabulary = VOCAB) -> LeafCheck:
    condition, problems = parse_condition({subject: {op: value}})
    assert condition is not None and isinstance(condition, Leaf), problems
    return compile_leaf(condition, vocabulary)


def both(leaf: LeafCheck, value: Scalar) -> bool:
    """The one-value answer, after checking the column answer agrees with it."""
    single = leaf.test(value)
    assert leaf.test_column is not None
    column = leaf.test_column(ValueColumn.of([value, "filler"]))
    assert bool(column[0]) is single, (leaf.leaf, value)
    return single


RECORD_CASES: list[tuple[str, Any, Scalar, bool]] = [
    ("eq", "a", "a", True),
    ("eq", "a", None, False),
    ("eq", "a", 1, False),
    ("eq", True, True, True),
    ("eq", True, 1, False),
    ("eq", True, 1.0, False),
    ("eq", True, "true", False),
    ("eq", False, 0, False),
    ("eq", 1, 1, True),
    ("eq", 1, 1.0, True),
    ("eq", 1, True, False),
    ("eq", 1, "1", False),
    ("ne", "a", None, True),
    ("ne", "a", "b", True),
    ("ne", "a", "a", False),
    ("ne", True, 1, True),
    ("in", ["a", 2, True], "a", True),
    ("in", ["a", 2, True], 2.0, True),
    ("in", ["a", 2, True], True, True),
    ("in", ["a", 2, True], 1, False),
    ("in", ["a", 2, True], False, False),
    ("in", ["a", 2, True], "2", False),
    ("in", ["a", 2, True], None, False),
    ("not_in", ["a"], None, True),
    ("not_in", ["a"], "a", False),
    ("not_in", ["a"], "b", True),
    ("lt", 3, 2, True),
    ("lt", 3, 2.99, True),
    ("lt", 3, 3, False),
    ("lt", 3, None, False),
    ("lt", 3, "2", False),
    ("lt", 3, True, False),
    ("le", 3, 3, True),
    ("gt", 3, 3, False),
    ("gt", 3, 3.5, True),
    ("ge", 3, 3.0, True),
    ("ge", 3, None, False),
    ("exists", True, None, False),
    ("exists", True, 0, True),
    ("exists", True, False, True),
    ("exists", True, "", True),
    ("exists", False, None, True),
    ("exists", False, "x", False),
    ("matches", "ab+", "abb", True),
    ("matches", "ab+", "xabb", False),
    ("matches", "ab+", "abbx", False),
    ("matches", "ab+", None, False),
    ("matches", "1", 1, False),
]


@pytest.mark.parametrize(("op", "literal", "value", "expected"), RECORD_CASES)
def test_record_scalar_operators(op: str, literal: Any, value: Scalar, expected: bool) -> None:
    assert both(check("context.key", op, literal), value) is expected


def test_set_references_expand_from_the_vocabulary() -> None:
    leaf = check("context.campaign_category", "in", "$hec")
    assert leaf.leaf.value == SetRef("hec")
    assert both(leaf, "housing") is True
    assert both(leaf, "none") is False
    assert both(check("context.campaign_category", "not_in", "$hec"), None) is True


def test_unknown_age_is_null_for_comparisons() -> None:
    young = check("consent.age", "lt", 16)
    assert young.test_column is not None
    column = NumberColumn(np.array([15.0, 16.0, np.nan]))
    assert young.test_column(column).tolist() == [True, False, False]
    assert young.test(None) is False
    not_sixteen = check("consent.age", "ne", 16)
    assert not_sixteen.test(None) is True


def test_event_time_compares_with_rfc3339_literals() -> None:
    leaf = check("record.event_time", "lt", "2026-01-01T00:00:00Z")
    assert leaf.test(1_767_225_599.0) is True
    assert leaf.test(1_767_225_600.0) is False


TAXONOMY_CASES: list[tuple[str, str, Any, Any, bool]] = [
    ("transformation.purpose", "eq", "marketing.advertising", "marketing.advertising", True),
    (
        "transformation.purpose",
        "eq",
        "marketing.advertising",
        "marketing.advertising.third_party.targeted",
        True,
    ),
    ("transformation.purpose", "eq", "marketing.advertising.third_party", "marketing", False),
    ("transformation.purpose", "ne", "marketing", "essential.fraud_detection", True),
    (
        "transformation.purpose",
        "in",
        "$ads_cross_context",
        "marketing.advertising.third_party",
        True,
    ),
    (
        "transformation.purpose",
        "in",
        "$ads_cross_context",
        "marketing.advertising.first_party.contextual",
        False,
    ),
    ("transformation.purpose", "not_in", ["essential"], "essential.fraud_detection", False),
    ("transformation.purpose", "matches", "marketing\\..*", "marketing.advertising", True),
    (
        "transformation.input_categories",
        "intersects",
        ["user.location"],
        frozenset({"user.contact", "user.location.precise"}),
        True,
    ),
    (
        "transformation.input_categories",
        "intersects",
        ["user.location"],
        frozenset({"user.contact"}),
        False,
    ),
    ("transformation.input_categories", "intersects", "$spi", frozenset(), False),
    (
        "transformation.input_categories",
        "subset_of",
        ["user.location"],
        frozenset({"user.location.precise", "user.location.imprecise"}),
        True,
    ),
    (
        "transformation.input_categories",
        "subset_of",
        ["user.location"],
        frozenset({"user.location.precise", "user.contact"}),
        False,
    ),
    ("transformation.input_categories", "subset_of", ["user.location"], frozenset(), True),
    (
        "transformation.output_categories",
        "eq",
        "user.location",
        frozenset({"user.location.precise"}),
        True,
    ),
    ("transformation.output_categories", "ne", "user.location", frozenset({"user.contact"}), True),
    ("transformation.output_categories", "exists", True, frozenset(), False),
    ("transformation.output_categories", "exists", False, frozenset(), True),
    ("transformation.output_categories", "exists", True, frozenset({"user"}), True),
]


@pytest.mark.parametrize(("subject", "op", "literal", "value", "expected"), TAXONOMY_CASES)
def test_taxonomy_subjects_match_by_hierarchy(
    subject: str, op: str, literal: Any, value: Any, expected: bool
) -> None:
    leaf = check(subject, op, literal)
    assert leaf.test_column is None  # known per manifest: never compared per record
    assert leaf.test(value) is expected


def test_a_key_is_not_covered_by_a_mere_prefix_of_its_text() -> None:
    leaf = check("transformation.purpose", "in", ["marketing.advertising.third"])
    assert leaf.test("marketing.advertising.third_party") is False


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(-5, 5, allow_nan=False),
    st.sampled_from(["a", "b", "ab", "1", "true", ""]),
)
literals = st.one_of(st.booleans(), st.integers(-5, 5), st.sampled_from(["a", "b", "1"]))
numbers = st.one_of(st.integers(-5, 5), st.floats(-5, 5, allow_nan=False))
leaves = st.one_of(
    st.tuples(st.sampled_from(["eq", "ne"]), literals),
    st.tuples(st.sampled_from(["in", "not_in"]), st.lists(literals, min_size=1, max_size=4)),
    st.tuples(st.sampled_from(["lt", "le", "gt", "ge"]), numbers),
    st.tuples(st.just("exists"), st.booleans()),
    st.tuples(st.just("matches"), st.sampled_from(["a.*", "[0-9]+", "(a|b)"])),
)


@given(leaf=leaves, values=st.lists(scalars, min_size=1, max_size=12))
def test_column_and_single_value_tests_agree(leaf: tuple[str, Any], values: list[Scalar]) -> None:
    op, literal = leaf
    compiled = check("context.key", op, literal)
    assert compiled.test_column is not None
    column = compiled.test_column(ValueColumn.of(values)).tolist()
    assert column == [compiled.test(value) for value in values]


def test_null_semantics_through_a_whole_batch(bundle_of: Any, geo: Any) -> None:
    bundle = bundle_of(
        """
        - id: R-NE
          title: campaign category other than none
          cite: c
          severity: low
          when: {context.campaign_category: {ne: none}}
          action: flag
        - id: R-AGE
          title: under 16
          cite: c
          severity: high
          when: {consent.age: {lt: 16}}
          action: block
        - id: R-UNKNOWN
          title: no consent state
          cite: c
          severity: info
          when: {consent.known: {eq: false}}
          action: allow
        """
    )
    batch = make_batch(
        [
            Row(geo, context={"campaign_category": "none"}, consent=ConsentState(age=15)),
            Row(geo, context={}, consent=ConsentState()),
            Row(geo, context={"campaign_category": "housing"}, consent=None),
        ]
    )
    decision = bundle.compiled.decide(batch)
    ids = [[hit.rule_id for hit in hits] for hits in decision.hits]
    assert ids == [["R-AGE"], ["R-NE"], ["R-NE", "R-UNKNOWN"]]
