"""Columns: one subject's values for a set of records, with typed views built on first use.

Predicates never look at one record at a time; they read a typed view of a whole column
(``present``, ``number``, ``is_true``, ``is_false``, ``raw``) and compare it with numpy. A view is
computed once per batch and subset for each group of records that needs it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cached_property

import numpy as np
import numpy.typing as npt

from interceptor.scalars import Scalar

__all__ = [
    "BoolArray",
    "BoolColumn",
    "Column",
    "FloatArray",
    "IntArray",
    "NumberColumn",
    "ObjectArray",
    "RowsColumn",
    "ValueColumn",
]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
ObjectArray = npt.NDArray[np.object_]


_TYPE_OF = np.frompyfunc(type, 1, 1)
_NULL = np.array(None, dtype=object)
_TRUE = np.array(True, dtype=object)
_FALSE = np.array(False, dtype=object)
_INT, _FLOAT, _BOOL = (np.array(t, dtype=object) for t in (int, float, bool))


def _bools(values: object) -> BoolArray:
    return np.asarray(values, dtype=np.bool_)


class Column(ABC):
    """Typed views over one subject's values. Subclasses say how each view is derived."""

    @property
    @abstractmethod
    def raw(self) -> ObjectArray | BoolArray | FloatArray:
        """The values as stored."""

    @property
    @abstractmethod
    def present(self) -> BoolArray:
        """Not null."""

    @property
    @abstractmethod
    def number(self) -> FloatArray:
        """The value where it is a number (not a boolean), else NaN."""

    @property
    @abstractmethod
    def is_true(self) -> BoolArray:
        """The value is the boolean true."""

    @property
    @abstractmethod
    def is_false(self) -> BoolArray:
        """The value is the boolean false."""

    @abstractmethod
    def value(self, i: int) -> Scalar:
        """Row ``i`` as a plain Python scalar (null for a missing value)."""

    def take(self, rows: IntArray) -> Column:
        return RowsColumn(self, rows)


class ValueColumn(Column):
    """Arbitrary record scalars (context entries, feature values): strings, numbers, booleans."""

    def __init__(self, raw: ObjectArray) -> None:
        self._raw = raw

    @property
    def raw(self) -> ObjectArray:
        return self._raw

    @classmethod
    def of(cls, values: list[Scalar]) -> ValueColumn:
        raw = np.empty(len(values), dtype=object)
        raw[:] = values
        return cls(raw)

    @cached_property
    def _types(self) -> ObjectArray:
        return np.asarray(_TYPE_OF(self.raw), dtype=object)

    @cached_property
    def present(self) -> BoolArray:
        return _bools(np.not_equal(self.raw, _NULL))

    @cached_property
    def number(self) -> FloatArray:
        types = self._types
        numeric = _bools(np.equal(types, _INT)) | _bools(np.equal(types, _FLOAT))
        out = np.full(self.raw.shape, np.nan)
        out[numeric] = self.raw[numeric].astype(np.float64)
        return out

    @cached_property
    def is_true(self) -> BoolArray:
        return _bools(np.equal(self._types, _BOOL)) & _bools(np.equal(self.raw, _TRUE))

    @cached_property
    def is_false(self) -> BoolArray:
        return _bools(np.equal(self._types, _BOOL)) & _bools(np.equal(self.raw, _FALSE))

    def value(self, i: int) -> Scalar:
        item: Scalar = self.raw[i]
        return item


class BoolColumn(Column):
    """Flags that are never null (consent flags)."""

    def __init__(self, flags: BoolArray) -> None:
        self._flags = flags

    @property
    def raw(self) -> BoolArray:
        return self._flags

    @property
    def is_true(self) -> BoolArray:
        return self._flags

    @cached_property
    def present(self) -> BoolArray:
        return np.ones(self._flags.shape, dtype=np.bool_)

    @cached_property
    def is_false(self) -> BoolArray:
        return ~self.is_true

    @cached_property
    def number(self) -> FloatArray:
        return np.full(self.is_true.shape, np.nan)

    def value(self, i: int) -> Scalar:
        return bool(self.is_true[i])


class NumberColumn(Column):
    """Numbers where NaN means null (consent age, event time, geo cell area)."""

    def __init__(self, numbers: FloatArray) -> None:
        self._numbers = numbers

    @property
    def raw(self) -> FloatArray:
        return self._numbers

    @property
    def number(self) -> FloatArray:
        return self._numbers

    @cached_property
    def present(self) -> BoolArray:
        return ~np.isnan(self.number)

    @cached_property
    def is_true(self) -> BoolArray:
        return np.zeros(self.number.shape, dtype=np.bool_)

    @cached_property
    def is_false(self) -> BoolArray:
        return self.is_true

    def value(self, i: int) -> Scalar:
        item = float(self.number[i])
        return None if np.isnan(item) else item


class RowsColumn(Column):
    """Some rows of a batch-wide column; each view is the parent's view, subset once."""

    def __init__(self, parent: Column, rows: IntArray) -> None:
        self._parent = parent
        self._rows = rows

    @cached_property
    def raw(self) -> ObjectArray | BoolArray | FloatArray:
        return self._parent.raw[self._rows]

    @cached_property
    def present(self) -> BoolArray:
        return self._parent.present[self._rows]

    @cached_property
    def number(self) -> FloatArray:
        return self._parent.number[self._rows]

    @cached_property
    def is_true(self) -> BoolArray:
        return self._parent.is_true[self._rows]

    @cached_property
    def is_false(self) -> BoolArray:
        return self._parent.is_false[self._rows]

    def value(self, i: int) -> Scalar:
        return self._parent.value(int(self._rows[i]))

    def take(self, rows: IntArray) -> Column:
        return RowsColumn(self._parent, self._rows[rows])
