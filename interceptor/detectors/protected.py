"""Protected attributes and the joint (intersectional) code the contingency tables are kept against.

Every table column is one cell of race x sex x age band (x ...), unknown levels included, so one
table per feature answers the per-attribute questions (sum the other axes, drop the attribute's
unknown level) and the intersectional one (keep the cells where every attribute is known).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_SCHEMA",
    "JOINT",
    "ProtectedAttribute",
    "ProtectedSchema",
]

#: The name findings use for the intersectional (every attribute at once) score.
JOINT: Final = "joint"

_DUPLICATE_ATTRIBUTE = 'protected attribute "{0}" is declared twice'
_NO_LEVELS = 'protected attribute "{0}" needs at least one level'
_LENGTHS = "protected columns differ in length: {0}"
_RESERVED_NAME = 'protected attribute cannot be called "{0}"'


@dataclass(frozen=True)
class ProtectedAttribute:
    """One protected attribute; code ``len(levels)`` means unknown or missing."""

    name: str
    levels: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.levels:
            raise ValueError(_NO_LEVELS.format(self.name))
        if self.name == JOINT:
            raise ValueError(_RESERVED_NAME.format(self.name))

    @property
    def unknown(self) -> int:
        return len(self.levels)

    @property
    def size(self) -> int:
        """Number of codes, the unknown one included."""
        return len(self.levels) + 1

    @cached_property
    def _index(self) -> dict[str, int]:
        return {level: i for i, level in enumerate(self.levels)}

    def code(self, value: object) -> int:
        """The level's code (non-text values are matched by ``str``); anything else is unknown."""
        if value is None:
            return self.unknown
        return self._index.get(value if isinstance(value, str) else str(value), self.unknown)

    def codes(self, values: Sequence[object]) -> npt.NDArray[np.int64]:
        code = self.code
        return np.fromiter((code(v) for v in values), dtype=np.int64, count=len(values))


@dataclass(frozen=True)
class ProtectedSchema:
    """The protected attributes of an audit panel, in the order of the mixed-radix joint code."""

    attributes: tuple[ProtectedAttribute, ...]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for attribute in self.attributes:
            if attribute.name in seen:
                raise ValueError(_DUPLICATE_ATTRIBUTE.format(attribute.name))
            seen.add(attribute.name)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Sequence[str]]) -> ProtectedSchema:
        """``{"race": ["white", ...], "sex": [...]}`` as in configuration files."""
        return cls(
            tuple(
                ProtectedAttribute(name, tuple(str(v) for v in levels))
                for name, levels in mapping.items()
            )
        )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attributes)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(a.size for a in self.attributes)

    @property
    def joint_size(self) -> int:
        return math.prod(self.shape)

    @property
    def known_joint_size(self) -> int:
        """Joint cells in which every attribute is known."""
        return math.prod(len(a.levels) for a in self.attributes)

    def encode(self, columns: Mapping[str, Sequence[object]]) -> npt.NDArray[np.int64]:
        """Joint codes of a batch given one column per attribute (a missing column is unknown)."""
        n = _length(columns)
        joint = np.zeros(n, dtype=np.int64)
        for attribute in self.attributes:
            column = columns.get(attribute.name)
            codes = (
                np.full(n, attribute.unknown, dtype=np.int64)
                if column is None
                else attribute.codes(column)
            )
            joint = joint * attribute.size + codes
        return joint

    def encode_one(self, values: Mapping[str, object]) -> int:
        joint = 0
        for attribute in self.attributes:
            joint = joint * attribute.size + attribute.code(values.get(attribute.name))
        return joint

    def decode(self, joint: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], ...]:
        """Per-attribute codes of joint codes (the inverse of :meth:`encode`)."""
        return tuple(np.unravel_index(joint, self.shape))

    def marginal(self, counts: npt.NDArray[np.float64], index: int) -> npt.NDArray[np.float64]:
        """Sum a ``(..., joint)`` array down to one attribute's known levels (unknown dropped)."""
        lead = counts.shape[:-1]
        full = counts.reshape(*lead, *self.shape)
        axes = tuple(len(lead) + i for i in range(len(self.shape)) if i != index)
        summed = full.sum(axis=axes) if axes else full
        return np.ascontiguousarray(summed[..., : self.attributes[index].unknown])

    def known(self, counts: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The ``(..., joint)`` columns where every attribute is known (intersectional table)."""
        return counts[..., self._known_columns]

    @cached_property
    def _known_columns(self) -> npt.NDArray[np.int64]:
        grids = np.meshgrid(*(np.arange(len(a.levels)) for a in self.attributes), indexing="ij")
        return np.ravel_multi_index(tuple(g.ravel() for g in grids), self.shape).astype(np.int64)


def _length(columns: Mapping[str, Sequence[object]]) -> int:
    lengths = {len(column) for column in columns.values()}
    if len(lengths) > 1:
        raise ValueError(_LENGTHS.format(sorted(lengths)))
    return lengths.pop() if lengths else 0


DEFAULT_SCHEMA: Final = ProtectedSchema.from_mapping(
    {
        "race": ["white", "black", "hispanic", "asian", "native", "other"],
        "sex": ["female", "male", "nonbinary"],
        "age_band": ["13-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"],
    }
)
