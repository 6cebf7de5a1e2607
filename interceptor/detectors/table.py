"""One feature's sparse contingency table against the joint protected code, in two folds.

A cell is (feature key, fold, joint protected code) and holds a weight (a count, or a decayed
count). Beside the cells, the sum of squared weights is kept per joint protected code: every
table the estimators see keeps all feature rows and a subset of the protected columns, so that is
all Kish's effective sample size N_eff = (sum w)^2 / sum w^2 of a sub-table needs. The fold is a
bit of a hash of the entity id; the two folds let the cross-fitted (held-out) information be
computed from counts alone.

The cells are stored as one sorted int64 array ``key * columns + column`` with a float64 array
of weights beside it, so adding a batch, merging two tables and decaying are a few vectorised
numpy calls. Merging is exact for integer counts, and otherwise commutative bit for bit and
associative up to float rounding, which is what lets partitions and instances be added in any
order.

The number of distinct keys is capped (a bottom-k of a fixed hash of the key): keys whose hash is
above the table's admission limit are folded into the OVERFLOW row. Because admission depends only
on the key and the limit only ever goes down, the cap commutes with merging too; the same bottom-k
gives an estimate of the number of distinct values once the table is full (``distinct_seen``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, Final, TypeVar

import numpy as np
import numpy.typing as npt

from interceptor.detectors.encoding import (
    KEY_LIMIT,
    OVERFLOW_KEY,
    QUANTIZER_VERSION,
    RESERVED_FLOOR,
    FeatureKind,
    mix64,
)

__all__ = ["DEFAULT_MAX_KEYS", "FeatureTable"]

DEFAULT_MAX_KEYS: Final = 65_536
#: A cell whose weight decays below this is dropped (about 20 half-lives for a single count).
PRUNE_WEIGHT: Final = 1e-6
_NO_LIMIT: Final = (1 << 64) - 1
_STATE_VERSION: Final = 2

_MISMATCH = "cannot merge tables: {0} differ ({1!r} and {2!r})"
_TOO_MANY_COLUMNS = "a joint protected code of {0} cells is too large (at most {1})"
_LENGTHS = "keys, joint codes and folds must have one length, got {0}"
_BAD_STATE = "detector table state is not valid: {0}"
_OUT_OF_RANGE = "{0} must lie in [0, {1}), got [{2}, {3}]"

IntT = TypeVar("IntT", np.int32, np.int64)


class FeatureTable:
    """Sparse (feature key x fold x joint protected code) weights of one feature."""

    __slots__ = ("_codes", "_limit", "_w", "_w2", "joint_size", "kind", "max_keys", "rows_seen")

    # _codes: sorted cell codes; _w: their weights; _w2: squared weights per joint code.

    def __init__(
        self, kind: FeatureKind, joint_size: int, *, max_keys: int = DEFAULT_MAX_KEYS
    ) -> None:
        if 2 * joint_size * KEY_LIMIT >= 1 << 63:
            raise ValueError(_TOO_MANY_COLUMNS.format(joint_size, (1 << 63) // KEY_LIMIT // 2))
        self.kind: FeatureKind = kind
        self.joint_size = joint_size
        self.max_keys = max_keys
        self.rows_seen = 0
        self._codes = np.empty(0, dtype=np.int64)
        self._w = np.empty(0, dtype=np.float64)
        self._w2 = np.zeros(joint_size, dtype=np.float64)
        self._limit = _NO_LIMIT

    @property
    def columns(self) -> int:
        """Columns per key: fold * joint_size + joint code."""
        return 2 * self.joint_size

    # ----------------------------------------------------------------------------- updates

    def add(
        self,
        keys: npt.NDArray[np.int64],
        joint_codes: npt.NDArray[np.int64],
        folds: npt.NDArray[np.integer[Any]],
        weights: npt.NDArray[np.float64] | None = None,
    ) -> None:
        """Count a batch of rows (optionally weighted, e.g. importance weights)."""
        if not len(keys) == len(joint_codes) == len(folds):
            raise ValueError(_LENGTHS.format([len(keys), len(joint_codes), len(folds)]))
        if len(keys) == 0:
            return
        keys = np.asarray(keys, dtype=np.int64)
        low, high = int(keys.min()), int(keys.max())
        if low < 0 or high >= KEY_LIMIT:
            raise ValueError(_OUT_OF_RANGE.format("keys", KEY_LIMIT, low, high))
        _check_range(joint_codes, self.joint_size, "joint codes")
        _check_range(folds, 2, "folds")
        column = np.asarray(folds, dtype=np.int64) * self.joint_size + np.asarray(
            joint_codes, dtype=np.int64
        )
        base = low * self.columns
        narrow = (high - low + 1) * self.columns < 1 << 31  # grid keys of one batch usually are
        combined = (keys - low) * self.columns + column
        if narrow:
            combined = combined.astype(np.int32)  # sorts in half the time
        joint = np.asarray(joint_codes, dtype=np.int64)
        if weights is None:
            ordered = np.sort(combined)
            codes, starts = _runs(ordered)
            w = np.diff(starts, append=len(ordered)).astype(np.float64)
            w2 = np.bincount(joint, minlength=self.joint_size).astype(np.float64)
        else:
            weights = np.asarray(weights, dtype=np.float64)
            order = np.argsort(combined, kind="stable")
            codes, starts = _runs(combined[order])
            w = np.add.reduceat(weights[order], starts)
            w2 = _sum_by(joint, weights * weights, minlength=self.joint_size)
        codes = codes.astype(np.int64) + base
        self.rows_seen += len(keys)
        self._w2 = self._w2 + w2
        self._absorb(codes, w, self._limit)

    def decay(self, factor: float) -> None:
        """Multiply every weight by ``factor`` (squared weights by its square); drop dust."""
        if factor == 1.0:
            return
        self._w = self._w * factor
        self._w2 = self._w2 * (factor * factor)
        keep = self._w >= PRUNE_WEIGHT
        if not keep.all():
            self._codes, self._w = self._codes[keep], self._w[keep]

    def merged(self, other: FeatureTable) -> FeatureTable:
        """A new table holding both tables' weights (union of keys)."""
        for name in ("kind", "joint_size", "max_keys"):
            if getattr(self, name) != getattr(other, name):
                raise ValueError(_MISMATCH.format(name, getattr(self, name), getattr(other, name)))
        result = self.copy()
        result.rows_seen += other.rows_seen
        result._w2 = self._w2 + other._w2
        result._absorb(other._codes, other._w, min(self._limit, other._limit))
        return result

    def __add__(self, other: FeatureTable) -> FeatureTable:
        return self.merged(other)

    def copy(self) -> FeatureTable:
        result = FeatureTable(self.kind, self.joint_size, max_keys=self.max_keys)
        result.rows_seen = self.rows_seen
        result._codes, result._w, result._w2 = self._codes, self._w, self._w2  # never mutated
        result._limit = self._limit
        return result

    def _absorb(self, codes: npt.NDArray[np.int64], w: npt.NDArray[np.float64], limit: int) -> None:
        if len(self._codes):
            # Two sorted runs: a stable sort merges them in linear time, and each shared cell
            # is summed as (own + other), so a + b and b + a agree bit for bit.
            both = np.concatenate([self._codes, codes])
            order = np.argsort(both, kind="stable")
            codes, starts = _runs(both[order])
            w = np.add.reduceat(np.concatenate([self._w, w])[order], starts)
        self._codes, self._w = codes, w
        self._limit = limit
        self._cap()

    def _cap(self) -> None:
        """Fold keys outside the bottom-``max_keys`` of the key hash into OVERFLOW."""
        if len(self._codes) <= self.max_keys and self._limit == _NO_LIMIT:
            return  # fewer cells than the cap, so fewer keys too
        keys = self._codes // self.columns
        distinct, _ = _runs(keys)
        distinct = distinct[distinct < RESERVED_FLOOR]
        if len(distinct) <= self.max_keys and self._limit == _NO_LIMIT:
            return
        hashes = mix64(distinct)
        admitted = hashes <= np.uint64(self._limit)
        if admitted.sum() > self.max_keys:
            self._limit = int(np.partition(hashes[admitted], self.max_keys - 1)[self.max_keys - 1])
            admitted = hashes <= np.uint64(self._limit)
        refused = distinct[~admitted]
        if len(refused) == 0:
            return
        moved = np.isin(keys, refused)
        codes = self._codes.copy()
        codes[moved] = OVERFLOW_KEY * self.columns + self._codes[moved] % self.columns
        self._codes = np.empty(0, dtype=np.int64)
        order = np.argsort(codes, kind="stable")
        self._codes, starts = _runs(codes[order])
        self._w = np.add.reduceat(self._w[order], starts)

    # ----------------------------------------------------------------------------- reading

    @property
    def sum_w(self) -> float:
        return float(self._w.sum())

    @property
    def sum_w2(self) -> float:
        return float(self._w2.sum())

    @property
    def n(self) -> float:
        """Total weight (the row count when nothing has decayed)."""
        return self.sum_w

    @property
    def n_eff(self) -> float:
        """Kish's effective sample size (sum w)^2 / sum w^2."""
        sum_w2 = self.sum_w2
        return self.sum_w**2 / sum_w2 if sum_w2 > 0 else 0.0

    @property
    def cells(self) -> int:
        return len(self._codes)

    @property
    def distinct_seen(self) -> int:
        """Distinct values seen: exact until the cap is reached, a bottom-k estimate after."""
        keys, _ = _runs(self._codes // self.columns)
        held = int((keys < RESERVED_FLOOR).sum())
        if self._limit == _NO_LIMIT:
            return held
        return max(held, round((self.max_keys - 1) * 2.0**64 / (self._limit + 1)))

    @property
    def saturated(self) -> bool:
        """Whether some keys were folded into OVERFLOW."""
        return self._limit != _NO_LIMIT

    def key_totals(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Sorted distinct keys and the total weight of each (both folds, every column)."""
        distinct, starts = _runs(self._codes // self.columns)
        if not len(distinct):
            return distinct, np.empty(0, dtype=np.float64)
        return distinct, np.add.reduceat(self._w, starts)

    def grouped(
        self, row_of_key: npt.NDArray[np.int64], rows: int
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Dense ``(rows, 2, joint_size)`` weights for a key -> row map, and the squared
        weights per joint code (all an effective sample size needs).

        ``row_of_key`` is aligned with the keys of :meth:`key_totals`.
        """
        _, starts = _runs(self._codes // self.columns)
        row = np.repeat(row_of_key, np.diff(starts, append=len(self._codes)))
        flat = row * self.columns + self._codes % self.columns
        w = _sum_by(flat, self._w, minlength=rows * self.columns)
        return w.reshape(rows, 2, self.joint_size), self._w2.copy()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FeatureTable):
            return NotImplemented
        return (
            self.kind == other.kind
            and self.joint_size == other.joint_size
            and self.max_keys == other.max_keys
            and self.rows_seen == other.rows_seen
            and self._limit == other._limit
            and np.array_equal(self._codes, other._codes)
            and np.array_equal(self._w, other._w)
            and np.array_equal(self._w2, other._w2)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"FeatureTable(kind={self.kind!r}, cells={self.cells}, n={self.n:.6g}, "
            f"n_eff={self.n_eff:.6g}, distinct_seen={self.distinct_seen})"
        )

    # ----------------------------------------------------------------------------- state

    def arrays(
        self,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Sorted cell codes ``key * columns + column``, their weights, and the squared
        weights per joint code."""
        return self._codes, self._w, self._w2

    @property
    def limit(self) -> int:
        """Admission limit of the key cap (``2**64 - 1`` while the table is not full)."""
        return self._limit

    @classmethod
    def from_arrays(
        cls,
        kind: FeatureKind,
        joint_size: int,
        *,
        max_keys: int,
        rows_seen: int,
        limit: int,
        codes: npt.NDArray[Any],
        w: npt.NDArray[Any],
        w2: npt.NDArray[Any],
    ) -> FeatureTable:
        """Rebuild a table from :meth:`arrays` and its settings (checked, never trusted)."""
        if kind not in ("categorical", "numeric"):
            raise ValueError(_BAD_STATE.format(f"kind {kind!r}"))
        table = cls(kind, joint_size, max_keys=max_keys)
        codes = np.asarray(codes, dtype=np.int64)
        w, w2 = np.asarray(w, dtype=np.float64), np.asarray(w2, dtype=np.float64)
        if len(codes) != len(w) or (len(codes) > 1 and np.any(np.diff(codes) <= 0)):
            raise ValueError(_BAD_STATE.format("cells are not sorted and aligned"))
        if len(w2) != joint_size:
            raise ValueError(_BAD_STATE.format("squared weights do not match the joint code"))
        if len(codes) and (codes[0] < 0 or codes[-1] >= KEY_LIMIT * table.columns):
            raise ValueError(_BAD_STATE.format("cell codes out of range"))
        if not 0 <= limit <= _NO_LIMIT:
            raise ValueError(_BAD_STATE.format(f"limit {limit}"))
        table.rows_seen, table._limit = int(rows_seen), int(limit)
        table._codes, table._w, table._w2 = codes, w, w2
        return table

    def to_state(self) -> dict[str, Any]:
        """JSON-able state; :meth:`from_state` rebuilds an equal table."""
        return {
            "version": _STATE_VERSION,
            "quantizer": QUANTIZER_VERSION,
            "kind": self.kind,
            "joint_size": self.joint_size,
            "max_keys": self.max_keys,
            "rows_seen": self.rows_seen,
            "limit": self._limit,
            "codes": _b64(self._codes.astype("<i8")),
            "w": _b64(self._w.astype("<f8")),
            "w2": _b64(self._w2.astype("<f8")),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> FeatureTable:
        try:
            if state["version"] != _STATE_VERSION or state["quantizer"] != QUANTIZER_VERSION:
                raise ValueError(f"version {state['version']}/{state['quantizer']}")
            return cls.from_arrays(
                state["kind"],
                int(state["joint_size"]),
                max_keys=int(state["max_keys"]),
                rows_seen=int(state["rows_seen"]),
                limit=int(state["limit"]),
                codes=np.frombuffer(base64.b64decode(state["codes"]), dtype="<i8"),
                w=np.frombuffer(base64.b64decode(state["w"]), dtype="<f8"),
                w2=np.frombuffer(base64.b64decode(state["w2"]), dtype="<f8"),
            )
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise ValueError(_BAD_STATE.format(exc)) from exc


def _runs(ordered: npt.NDArray[IntT]) -> tuple[npt.NDArray[IntT], npt.NDArray[np.intp]]:
    """Distinct values of a sorted array and where each run of equal values starts."""
    if len(ordered) == 0:
        return ordered, np.empty(0, dtype=np.intp)
    start = np.empty(len(ordered), dtype=bool)
    start[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=start[1:])
    starts = np.flatnonzero(start)
    return ordered[starts], starts


def _sum_by(
    index: npt.NDArray[np.int64], weights: npt.NDArray[np.float64], minlength: int
) -> npt.NDArray[np.float64]:
    """Weights summed per index (``np.bincount`` typed as the float array it returns)."""
    return np.bincount(index, weights, minlength=minlength).astype(np.float64, copy=False)


def _check_range(values: npt.NDArray[Any], size: int, what: str) -> None:
    low, high = int(np.min(values)), int(np.max(values))
    if low < 0 or high >= size:
        raise ValueError(_OUT_OF_RANGE.format(what, size, low, high))


def _b64(array: npt.NDArray[Any]) -> str:
    return base64.b64encode(array.tobytes()).decode("ascii")
