"""The condition tree of a rule's ``when``: parsed from YAML data, checked, and dumped back.

A condition is a mapping with exactly one key: ``all: [...]``, ``any: [...]``, ``not: {...}``, or a
subject path mapped to one operator, e.g. ``{consent.gpc: {eq: true}}``. Parsing reports every
problem with the key path where it sits, so the loader can turn it into ``file:line:col``.
Named sets (``$spi``) stay references here; the vocabulary resolves them when a bundle is linted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypeAlias

from interceptor.policy.subjects import (
    OPERATORS,
    Kind,
    Subject,
    known_subjects,
    operator_problem,
    resolve_subject,
)

__all__ = [
    "AllOf",
    "AnyOf",
    "Condition",
    "ConditionProblem",
    "Leaf",
    "LiteralScalar",
    "LiteralValue",
    "NotOf",
    "SetRef",
    "dump_condition",
    "iter_leaves",
    "parse_condition",
    "parse_time",
]

LiteralScalar: TypeAlias = str | int | float | bool
RelPath: TypeAlias = tuple[str | int, ...]
ConditionProblem: TypeAlias = tuple[RelPath, str]


@dataclass(frozen=True, slots=True)
class SetRef:
    """A reference to a named set of the vocabulary, written ``$name``."""

    name: str

    def __str__(self) -> str:
        return f"${self.name}"


LiteralValue: TypeAlias = LiteralScalar | tuple[LiteralScalar, ...] | SetRef


@dataclass(frozen=True, slots=True)
class Leaf:
    """One test: ``subject`` ``op`` ``value``."""

    subject: str
    op: str
    value: LiteralValue


@dataclass(frozen=True, slots=True)
class AllOf:
    children: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    children: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class NotOf:
    child: Condition


Condition: TypeAlias = AllOf | AnyOf | NotOf | Leaf

_SET_NAME: Final = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_SHAPE: Final = "a condition is a mapping with one key: all, any, not, or a subject path"


def parse_time(text: str) -> float | None:
    """Seconds since the epoch for an RFC 3339 timestamp with an offset, else ``None``."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.timestamp() if parsed.tzinfo is not None else None


def parse_condition(data: Any) -> tuple[Condition | None, list[ConditionProblem]]:
    """Parse a ``when`` tree; return it, or ``None`` and every problem with its relative path."""
    problems: list[ConditionProblem] = []
    condition = _parse(data, (), problems)
    return (condition if not problems else None), problems


def _parse(data: Any, path: RelPath, problems: list[ConditionProblem]) -> Condition | None:
    if not isinstance(data, Mapping):
        problems.append((path, _SHAPE if data is not None else f"empty condition: {_SHAPE}"))
        return None
    if not data:
        problems.append((path, f"empty condition: {_SHAPE}"))
        return None
    if len(data) != 1:
        keys = ", ".join(str(k) for k in data)
        problems.append((path, f"a condition has exactly one key, found {keys}; combine with all"))
        return None
    ((key, value),) = data.items()
    where = (*path, key)
    if key in ("all", "any"):
        if not isinstance(value, list) or not value:
            problems.append((where, f"{key} takes a non-empty list of conditions"))
            return None
        children = [_parse(item, (*where, i), problems) for i, item in enumerate(value)]
        parsed = tuple(c for c in children if c is not None)
        return AllOf(parsed) if key == "all" else AnyOf(parsed)
    if key == "not":
        child = _parse(value, where, problems)
        return NotOf(child) if child is not None else None
    return _parse_leaf(str(key), value, where, problems)


def _parse_leaf(
    path_text: str, data: Any, where: RelPath, problems: list[ConditionProblem]
) -> Leaf | None:
    subject = resolve_subject(path_text)
    if subject is None:
        choices = ", ".join(known_subjects())
        problems.append((where, f"unknown subject {path_text!r} (known: {choices})"))
        return None
    if not isinstance(data, Mapping) or len(data) != 1:
        problems.append(
            (where, f"{path_text} takes exactly one operator, e.g. {{eq: ...}}; combine with all")
        )
        return None
    ((op, value),) = data.items()
    at = (*where, op)
    if op not in OPERATORS:
        problems.append((at, f"unknown operator {op!r} (known: {', '.join(sorted(OPERATORS))})"))
        return None
    mismatch = operator_problem(subject, op)
    if mismatch is None:
        literal, mismatch = _literal(subject, op, value)
        if mismatch is None and literal is not None:
            return Leaf(subject.path, op, literal)
    problems.append((at, mismatch or "invalid value"))
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _scalar_problem(kind: Kind, op: str, value: Any) -> str | None:
    """Why ``value`` is not a fitting literal for ``op`` on a subject of ``kind``."""
    if value is None:
        return "null is not a value to compare with; test a missing value with exists: false"
    if op in ("lt", "le", "gt", "ge"):
        if kind is Kind.TIME and isinstance(value, str):
            return None if parse_time(value) is not None else f"{value!r} is not RFC 3339 time"
        return None if _is_number(value) else f"{op} compares numbers, not {value!r}"
    expected: dict[Kind, tuple[type, ...]] = {
        Kind.TEXT: (str,),
        Kind.NUMBER: (int, float),
        Kind.TIME: (int, float),
        Kind.BOOL: (bool,),
        Kind.ANY: (str, int, float, bool),
        Kind.USE: (str,),
        Kind.CATEGORIES: (str,),
    }
    if kind is Kind.TIME and isinstance(value, str) and parse_time(value) is not None:
        return None
    if isinstance(value, bool) and bool not in expected[kind]:
        return f"{value!r} is a boolean; this subject holds {kind.value} values"
    if not isinstance(value, expected[kind]):
        return f"{value!r} does not fit a {kind.value} subject"
    return None


def _literal(subject: Subject, op: str, value: Any) -> tuple[LiteralValue | None, str | None]:
    kind = subject.kind
    if op == "exists":
        return (value, None) if isinstance(value, bool) else (None, "exists takes true or false")
    if op == "matches":
        if not isinstance(value, str):
            return None, "matches takes a regular expression string"
        try:
            re.compile(value)
        except re.error as exc:
            return None, f"invalid regular expression {value!r}: {exc}"
        return value, None
    if isinstance(value, str) and value.startswith("$"):
        match = _SET_NAME.fullmatch(value)
        if match is None:
            return None, f"{value!r} is not a set reference like $name"
        if op not in ("in", "not_in", "intersects", "subset_of"):
            return None, f"{op} compares with one value; a set reference needs in or intersects"
        if kind not in (Kind.TEXT, Kind.ANY, Kind.USE, Kind.CATEGORIES):
            return None, f"a set of names cannot be compared with the {kind.value} {subject.path}"
        return SetRef(match.group(1)), None
    if op in ("in", "not_in", "intersects", "subset_of"):
        if not isinstance(value, list) or not value:
            return None, f"{op} takes a non-empty list or a $set, not {value!r}"
        for item in value:
            problem = _scalar_problem(kind, "eq", item)
            if problem is not None:
                return None, problem
        return tuple(value), None
    if isinstance(value, list | dict):
        return None, f"{op} takes one value, not a {type(value).__name__}"
    problem = _scalar_problem(kind, op, value)
    return (None, problem) if problem else (value, None)


def dump_condition(condition: Condition) -> dict[str, Any]:
    """The YAML-ready form of ``condition``; :func:`parse_condition` reads it back unchanged."""
    if isinstance(condition, AllOf):
        return {"all": [dump_condition(c) for c in condition.children]}
    if isinstance(condition, AnyOf):
        return {"any": [dump_condition(c) for c in condition.children]}
    if isinstance(condition, NotOf):
        return {"not": dump_condition(condition.child)}
    value = condition.value
    dumped: Any = str(value) if isinstance(value, SetRef) else value
    if isinstance(value, tuple):
        dumped = list(value)
    return {condition.subject: {condition.op: dumped}}


def iter_leaves(condition: Condition, path: RelPath = ()) -> list[tuple[Leaf, RelPath]]:
    """Every leaf with its path relative to the ``when`` mapping (the path of its operator key)."""
    if isinstance(condition, Leaf):
        return [(condition, (*path, condition.subject, condition.op))]
    if isinstance(condition, NotOf):
        return iter_leaves(condition.child, (*path, "not"))
    key = "all" if isinstance(condition, AllOf) else "any"
    found: list[tuple[Leaf, RelPath]] = []
    for i, child in enumerate(condition.children):
        found.extend(iter_leaves(child, (*path, key, i)))
    return found
