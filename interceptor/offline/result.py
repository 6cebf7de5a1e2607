"""The outcome of an offline scan, in the shape every report renders.

The detector engine's findings are copied into these plain records once, so the terminal table,
the JSON and the HTML report all read the same numbers and none of them depends on engine types.
Only aggregates are held: protected attribute levels with their row counts, never a row's values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = [
    "FLAGGED_STATUSES",
    "STATUSES",
    "AttributeSummary",
    "AuditResult",
    "CombinationRow",
    "ProxyRow",
    "Status",
    "Thresholds",
]

Status = Literal["clear", "review", "proxy", "insufficient_support"]
STATUSES: Final[tuple[Status, ...]] = ("clear", "review", "proxy", "insufficient_support")
FLAGGED_STATUSES: Final[frozenset[str]] = frozenset({"review", "proxy"})


@dataclass(frozen=True)
class Thresholds:
    """The flag rule's parameters: the lower confidence bound of the score against two cut-offs."""

    review: float
    proxy: float
    alpha: float


@dataclass(frozen=True)
class ProxyRow:
    """One (feature, attribute) finding; ``attribute`` ``"joint"`` is the intersectional code."""

    feature: str
    attribute: str
    score: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    status: str
    flagged: bool
    p_raw: float = math.nan
    mi: float = math.nan
    nmi: float = math.nan
    method: str = ""
    predictive_information: float | None = None
    feature_kind: str = ""
    reasons: tuple[str, ...] = ()

    @property
    def held_out(self) -> bool:
        """Judged by cross-fitted (held-out) information: the table was too sparse to test."""
        return self.predictive_information is not None

    @property
    def sort_key(self) -> tuple[int, float, str, str]:
        """Flagged first, then by score, strongest first."""
        score = self.score if math.isfinite(self.score) else -math.inf
        return (0 if self.flagged else 1, -score, self.feature, self.attribute)


@dataclass(frozen=True)
class CombinationRow:
    """The cross-fitted classifier predicting one attribute from all features together."""

    attribute: str
    n: int
    ber: float
    auc: float
    predictive_information: float
    flagged: bool
    features: tuple[str, ...] = ()


@dataclass(frozen=True)
class AttributeSummary:
    """A protected column: its levels with row counts, and rows where it is unknown."""

    name: str
    levels: Mapping[str, int]
    unknown: int


@dataclass
class AuditResult:
    """Everything one ``interceptor audit`` run found."""

    file: str
    format: str
    rows: int
    features: tuple[str, ...]
    attributes: tuple[AttributeSummary, ...]
    thresholds: Thresholds
    proxies: list[ProxyRow]
    combinations: list[CombinationRow] = field(default_factory=list)
    entity: str | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def sorted_proxies(self) -> list[ProxyRow]:
        return sorted(self.proxies, key=lambda row: row.sort_key)

    @property
    def flagged(self) -> list[ProxyRow]:
        return [row for row in self.sorted_proxies() if row.flagged]

    @property
    def flagged_features(self) -> list[str]:
        """Features with at least one flagged finding, strongest first."""
        names: list[str] = []
        for row in self.flagged:
            if row.feature not in names:
                names.append(row.feature)
        return names

    @property
    def any_flagged(self) -> bool:
        """A single feature or a combination of features was flagged."""
        return bool(self.flagged) or any(c.flagged for c in self.combinations)
