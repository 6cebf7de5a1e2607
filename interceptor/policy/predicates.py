"""One leaf condition, compiled twice: a test of one value and a test of a whole column.

Null semantics, the same in both forms: a comparison with null (a missing context key, an unknown
age, an undeclared feature's type) is false for ``eq lt le gt ge in intersects subset_of
matches`` and true for ``ne`` and ``not_in``, which are exactly their negations. ``exists: true``
holds when the value is not null (for a set subject: when the set is not empty). Comparisons are
type-strict:
``true`` never equals ``1``, and a number never equals the string of its digits.

Taxonomy subjects (``transformation.purpose`` and the category sets) compare by coverage: a listed
key covers itself and its descendants. The category sets are never null; ``subset_of`` holds for an
empty set, and ``eq``/``ne`` on a set ask whether it contains a key covered by the value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Final

import numpy as np

from interceptor.policy.columns import BoolArray, Column
from interceptor.policy.conditions import Leaf, LiteralScalar, SetRef, parse_time
from interceptor.policy.subjects import Kind, Subject, resolve_subject
from interceptor.policy.vocabulary import Vocabulary, covered, covers

__all__ = ["LeafCheck", "compile_leaf"]

ScalarTest = Callable[[object], bool]
ColumnTest = Callable[[Column], BoolArray]

_ORDER: Final[dict[str, Callable[[float, float], bool]]] = {
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}
_NEGATED: Final = {"ne": "eq", "not_in": "in"}


@dataclass(frozen=True, slots=True)
class LeafCheck:
    """A leaf with its subject resolved, its ``$set`` expanded and both test forms built."""

    leaf: Leaf
    subject: Subject
    expected: LiteralScalar | tuple[LiteralScalar, ...]
    test: ScalarTest
    test_column: ColumnTest | None  # only for per-record subjects


def _is_number(value: object) -> bool:
    return (type(value) is int or type(value) is float) and value == value


def _same(value: object, literal: LiteralScalar) -> bool:
    """Type-strict equality: booleans equal only booleans, numbers only numbers."""
    if isinstance(literal, bool):
        return value is literal
    if isinstance(literal, str):
        return isinstance(value, str) and value == literal
    return _is_number(value) and value == literal


def _as_time(kind: Kind, literal: LiteralScalar) -> LiteralScalar:
    if kind is Kind.TIME and isinstance(literal, str):
        seconds = parse_time(literal)
        assert seconds is not None  # parsing rejected other strings
        return seconds
    return literal


def _scalar_test(kind: Kind, op: str, expected: object) -> ScalarTest:
    if op in _NEGATED:
        base = _scalar_test(kind, _NEGATED[op], expected)
        return lambda value: not base(value)
    if op == "exists":
        return lambda value: (value is not None and value != frozenset()) == expected
    if op == "matches":
        assert isinstance(expected, str)
        pattern = re.compile(expected)
        return lambda value: isinstance(value, str) and pattern.fullmatch(value) is not None
    if op in _ORDER:
        return _ordered(_ORDER[op], _number(expected))
    if kind is Kind.CATEGORIES:
        return _set_test(op, expected)
    if kind is Kind.USE:
        keys = _keys(expected)
        if op == "eq":
            return lambda value: isinstance(value, str) and covers(keys[0], value)
        return lambda value: isinstance(value, str) and covered(value, keys)
    if op == "eq":
        assert isinstance(expected, str | int | float)
        literal = expected
        return lambda value: _same(value, literal)
    assert isinstance(expected, tuple)
    members = expected
    return lambda value: any(_same(value, member) for member in members)


def _keys(expected: object) -> tuple[str, ...]:
    return tuple(str(k) for k in expected) if isinstance(expected, tuple) else (str(expected),)


def _number(expected: object) -> float:
    assert isinstance(expected, int | float)  # parsing admits only numbers (and times) here
    return float(expected)


def _ordered(compare: Callable[[float, float], bool], bound: float) -> ScalarTest:
    def test(value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return compare(value, bound)  # NaN compares false, like null

    return test


def _set_test(op: str, expected: object) -> ScalarTest:
    keys = _keys(expected)

    def members(value: object) -> Collection[str]:
        return value if isinstance(value, frozenset) else ()

    if op == "subset_of":
        return lambda value: all(covered(key, keys) for key in members(value))
    # eq (contains a covered key) and intersects (contains a key covered by any listed one)
    return lambda value: any(covered(key, keys) for key in members(value))


def _column_test(kind: Kind, op: str, expected: object) -> ColumnTest:
    if op in _NEGATED:
        base = _column_test(kind, _NEGATED[op], expected)
        return lambda column: ~base(column)
    if op == "exists":
        if expected:
            return lambda column: column.present
        return lambda column: ~column.present
    if op == "matches":
        pattern = re.compile(str(expected))
        matcher = np.frompyfunc(
            lambda value: isinstance(value, str) and pattern.fullmatch(value) is not None, 1, 1
        )
        return lambda column: np.asarray(matcher(column.raw), dtype=np.bool_)
    if op in _ORDER:
        compare = {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal}
        ufunc, bound = compare[op], _number(expected)
        return lambda column: np.asarray(ufunc(column.number, bound), dtype=np.bool_)
    literals = expected if isinstance(expected, tuple) else (expected,)
    return _membership(literals)


def _membership(literals: tuple[object, ...]) -> ColumnTest:
    """``eq`` (one literal) and ``in`` (several), split by literal type for strict equality."""
    texts = frozenset(v for v in literals if isinstance(v, str))
    numbers = np.array([v for v in literals if _is_number(v)], dtype=np.float64)
    want_true = any(v is True for v in literals)
    want_false = any(v is False for v in literals)
    # Only strings are in ``texts``, and no other scalar equals a string: membership is strict.
    text_member = np.frompyfunc(texts.__contains__, 1, 1)

    def test(column: Column) -> BoolArray:
        result = np.zeros(column.present.shape, dtype=np.bool_)
        if texts:
            result |= np.asarray(text_member(column.raw), dtype=np.bool_)
        if numbers.size:
            result |= np.isin(column.number, numbers)
        if want_true:
            result |= column.is_true
        if want_false:
            result |= column.is_false
        return result

    return test


def compile_leaf(leaf: Leaf, vocabulary: Vocabulary) -> LeafCheck:
    """Build both tests for ``leaf``; the bundle was linted, so every ``$set`` resolves."""
    subject = resolve_subject(leaf.subject)
    assert subject is not None
    value = leaf.value
    expected: LiteralScalar | tuple[LiteralScalar, ...]
    if isinstance(value, SetRef):
        expected = vocabulary.sets[value.name]
    elif isinstance(value, tuple):
        expected = tuple(_as_time(subject.kind, v) for v in value)
    else:
        expected = _as_time(subject.kind, value)
    test = _scalar_test(subject.kind, leaf.op, expected)
    per_record = subject.source.per_record
    column_test = _column_test(subject.kind, leaf.op, expected) if per_record else None
    return LeafCheck(leaf, subject, expected, test, column_test)
