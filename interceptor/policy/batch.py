"""What the policy engine reads and returns for one batch of records.

The engine decides a whole batch at once: inputs are columns (numpy arrays) or per-record sequences,
and the result is one action code per record plus the rules and feature edits behind it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Literal

import numpy as np
import numpy.typing as npt

from interceptor.consent import ConsentColumns
from interceptor.manifests import Manifest
from interceptor.scalars import Scalar

__all__ = [
    "ActionCode",
    "BatchDecision",
    "BatchInput",
    "FeatureEdit",
    "ProxyReading",
    "RuleHit",
]


class ActionCode(IntEnum):
    """Record outcomes, ordered so that ``max`` is the most restrictive one."""

    ALLOW = 0
    FLAG = 1
    TRANSFORM = 2
    REDACT = 3
    BLOCK = 4

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS: dict[int, str] = {code: code.name.lower() for code in ActionCode}


@dataclass(frozen=True, slots=True)
class ProxyReading:
    """A proxy detector's current view of one (transformation, feature)."""

    score: float
    flagged: bool
    status: str = "clear"


@dataclass(frozen=True, slots=True)
class BatchInput:
    """One batch, as columns. Every per-record sequence has length ``n``.

    ``manifests`` holds the distinct manifests of the batch and ``manifest_index`` points each
    record at one of them, so transformation-level checks run once per manifest, not per record.
    """

    manifests: Sequence[Manifest]
    manifest_index: npt.NDArray[np.int32]
    entity_id: Sequence[str]
    event_time: npt.NDArray[np.float64]  # seconds since the epoch
    now: float  # seconds since the epoch, for record.age_days
    features: Sequence[Mapping[str, Scalar]]
    context: Sequence[Mapping[str, Scalar]]
    consent: ConsentColumns
    proxy: Mapping[tuple[str, str], ProxyReading] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.entity_id)


@dataclass(frozen=True, slots=True)
class RuleHit:
    """A rule that took effect on a record (after exemptions)."""

    rule_id: str
    action: Literal["allow", "flag", "transform", "redact", "block"]
    severity: str
    cite: str
    feature: str | None = None  # set for feature-scope rules


@dataclass(frozen=True, slots=True)
class FeatureEdit:
    """A change to one feature of one record: remove it, or replace its value."""

    feature: str
    op: Literal["redact", "replace"]
    value: Scalar = None


@dataclass(frozen=True, slots=True)
class BatchDecision:
    """The engine's answer for a batch: ``action[i]`` is an :class:`ActionCode` value."""

    action: npt.NDArray[np.int8]
    hits: Sequence[tuple[RuleHit, ...]]
    edits: Sequence[tuple[FeatureEdit, ...]]
