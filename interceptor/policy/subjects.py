"""The subjects a rule can test, what kind of value each holds, and which operators fit it.

A subject's *source* says when its value is known: transformation and static feature subjects are
fixed per manifest (and feature name), so the engine evaluates them once and broadcasts; proxy
readings are fixed per (transformation, feature) for a batch; the rest vary per record and are
compared column-wise.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Final, Literal

__all__ = [
    "OPERATORS",
    "Kind",
    "Operator",
    "Source",
    "Subject",
    "known_subjects",
    "operator_problem",
    "resolve_subject",
]

Operator = Literal[
    "eq",
    "ne",
    "in",
    "not_in",
    "intersects",
    "subset_of",
    "lt",
    "le",
    "gt",
    "ge",
    "exists",
    "matches",
]
OPERATORS: Final[frozenset[str]] = frozenset(Operator.__args__)  # type: ignore[attr-defined]


class Kind(Enum):
    """What a subject's value is, which decides the operators and literals that make sense."""

    TEXT = "text"
    NUMBER = "number"
    TIME = "time"  # seconds since the epoch; literals may be numbers or RFC 3339 strings
    BOOL = "bool"
    ANY = "any"  # a record scalar of any type: string, number, boolean or null
    USE = "use"  # one taxonomy key (a data use / purpose)
    CATEGORIES = "categories"  # a set of taxonomy keys (data categories)


class Source(IntEnum):
    """Where a value comes from, ordered by how cheap it is to evaluate (cheapest first)."""

    TRANSFORMATION = 0
    FEATURE_STATIC = 1
    PROXY = 2
    CONSENT = 3
    RECORD = 4
    CONTEXT = 5
    FEATURE_VALUE = 6

    @property
    def is_static(self) -> bool:
        """Known from the manifest and feature name alone, before any record is seen."""
        return self <= Source.FEATURE_STATIC

    @property
    def per_record(self) -> bool:
        """Differs from record to record, so it is compared as a column."""
        return self >= Source.CONSENT


@dataclass(frozen=True, slots=True)
class Subject:
    """A resolved subject path such as ``consent.gpc`` or ``context.session_only``."""

    path: str
    kind: Kind
    source: Source

    @property
    def attribute(self) -> str:
        """The path after its namespace: ``gpc`` for ``consent.gpc``, ``proxy.score``."""
        return self.path.split(".", 1)[1]


_FIXED: Final[dict[str, tuple[Kind, Source]]] = {
    "transformation.id": (Kind.TEXT, Source.TRANSFORMATION),
    "transformation.version": (Kind.TEXT, Source.TRANSFORMATION),
    "transformation.purpose": (Kind.USE, Source.TRANSFORMATION),
    "transformation.owner": (Kind.TEXT, Source.TRANSFORMATION),
    "transformation.input_categories": (Kind.CATEGORIES, Source.TRANSFORMATION),
    "transformation.output_categories": (Kind.CATEGORIES, Source.TRANSFORMATION),
    "transformation.undisclosed_categories": (Kind.CATEGORIES, Source.TRANSFORMATION),
    "record.entity_id": (Kind.TEXT, Source.RECORD),
    "record.event_time": (Kind.TIME, Source.RECORD),
    "record.age_days": (Kind.NUMBER, Source.RECORD),
    "consent.known": (Kind.BOOL, Source.CONSENT),
    "consent.opt_out_sale_share": (Kind.BOOL, Source.CONSENT),
    "consent.gpc": (Kind.BOOL, Source.CONSENT),
    "consent.limit_spi": (Kind.BOOL, Source.CONSENT),
    "consent.minor_opt_in": (Kind.BOOL, Source.CONSENT),
    "consent.deleted": (Kind.BOOL, Source.CONSENT),
    "consent.age": (Kind.NUMBER, Source.CONSENT),
    "feature.name": (Kind.TEXT, Source.FEATURE_STATIC),
    "feature.type": (Kind.TEXT, Source.FEATURE_STATIC),
    "feature.categories": (Kind.CATEGORIES, Source.FEATURE_STATIC),
    "feature.declared": (Kind.BOOL, Source.FEATURE_STATIC),
    "feature.value": (Kind.ANY, Source.FEATURE_VALUE),
    "feature.geo_cell_km2": (Kind.NUMBER, Source.FEATURE_VALUE),
    "feature.proxy.score": (Kind.NUMBER, Source.PROXY),
    "feature.proxy.flagged": (Kind.BOOL, Source.PROXY),
    "feature.proxy.status": (Kind.TEXT, Source.PROXY),
}


def resolve_subject(path: str) -> Subject | None:
    """The subject named by ``path``, or ``None`` when no such subject exists."""
    fixed = _FIXED.get(path)
    if fixed is not None:
        return Subject(path, *fixed)
    prefix, _, key = path.partition(".")
    if prefix == "context" and key:
        return Subject(path, Kind.ANY, Source.CONTEXT)
    return None


def known_subjects() -> list[str]:
    """Every subject path, for error messages."""
    return [*sorted(_FIXED), "context.<key>"]


_ALLOWED: Final[dict[Kind, frozenset[str]]] = {
    Kind.TEXT: frozenset({"eq", "ne", "in", "not_in", "exists", "matches"}),
    Kind.NUMBER: frozenset({"eq", "ne", "in", "not_in", "lt", "le", "gt", "ge", "exists"}),
    Kind.TIME: frozenset({"eq", "ne", "lt", "le", "gt", "ge", "exists"}),
    Kind.BOOL: frozenset({"eq", "ne", "exists"}),
    Kind.ANY: frozenset(OPERATORS - {"intersects", "subset_of"}),
    Kind.USE: frozenset(OPERATORS - {"lt", "le", "gt", "ge"}),
    Kind.CATEGORIES: frozenset({"eq", "ne", "intersects", "subset_of", "exists"}),
}

_HINTS: Final[dict[tuple[Kind, str], str]] = {
    (Kind.CATEGORIES, "in"): "; a set subject takes intersects or subset_of",
    (Kind.CATEGORIES, "not_in"): "; write not: {...: {intersects: ...}} instead",
}


def operator_problem(subject: Subject, op: str) -> str | None:
    """Why ``op`` cannot be applied to ``subject``, or ``None`` when it can."""
    if op in _ALLOWED[subject.kind]:
        return None
    allowed = ", ".join(sorted(_ALLOWED[subject.kind]))
    hint = _HINTS.get((subject.kind, op), "")
    return f"operator {op!r} does not apply to {subject.path} (allowed: {allowed}){hint}"
