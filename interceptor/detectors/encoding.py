"""Feature values to int64 keys that are the same on every process, and keys to table rows.

Tables from different instances merge by ``+`` only if every instance maps a value to the same key,
so nothing here depends on process state (no per-process hash seed, no learned dictionary):

- categorical values (str, bool) get a keyed blake2b hash; the raw value is never kept, since
  feature values may be identifiers;
- numbers get a fixed, versioned log-scale grid (about 1% relative accuracy, sign-aware, with a zero
  bucket) whose keys are monotone in the value;
- ``None``, NaN and infinities get :data:`MISSING_KEY`.

At evaluation time the fine keys are grouped into the table rows the estimators see: numeric keys
into ``bins`` equal-frequency bins of the merged marginal (the "frozen quantile bins" of the design,
made mergeable: the grid is fixed, the grouping is a deterministic function of the merged table),
categorical keys into the exact top-K heavy hitters plus OTHER. MISSING keeps a row of its own.
Every grouping is a function of the feature's own marginal, never of the protected attribute, so
by the data-processing inequality it can only lose information, never invent it.

All keys are below ``2**52`` so that a key and a table column pack into one int64
(``key * columns + column``) for sorting-based counting.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "KEY_LIMIT",
    "MISSING_KEY",
    "OTHER_KEY",
    "OVERFLOW_KEY",
    "QUANTIZER_VERSION",
    "RESERVED_FLOOR",
    "FeatureKind",
    "bin_codes",
    "categorical_key",
    "encode_values",
    "group_categorical",
    "group_numeric",
    "hash_buckets",
    "kind_of",
    "mix64",
    "numeric_keys",
    "quantile_edges",
]

FeatureKind = Literal["categorical", "numeric"]

#: Bump when the numeric grid or the categorical hash changes: tables of different versions
#: cannot be merged.
QUANTIZER_VERSION: Final = 1

KEY_LIMIT: Final = 1 << 52
MISSING_KEY: Final = KEY_LIMIT - 1
OTHER_KEY: Final = KEY_LIMIT - 2
OVERFLOW_KEY: Final = KEY_LIMIT - 3
#: Keys at or above this are reserved; hashes and grid keys stay below it.
RESERVED_FLOOR: Final = KEY_LIMIT - 16

_HASH_KEY: Final = b"interceptor.detectors.v1"
_CACHE_LIMIT: Final = 200_000

# Numeric grid: bucket i holds |x| in (gamma**(i-1), gamma**i], gamma = (1+a)/(1-a) with a = 1%,
# so the bucket's midpoint is within 1% of every value in it (the DDSketch construction).
_ACCURACY: Final = 0.01
_LOG_GAMMA: Final = math.log((1 + _ACCURACY) / (1 - _ACCURACY))
_TINY: Final = 1e-300  # |x| at or below this is the zero bucket
_I_MIN: Final = math.ceil(math.log(_TINY) / _LOG_GAMMA)
_NUMERIC_ZERO: Final = 1 << 50


def kind_of(value: object) -> FeatureKind | None:
    """``categorical`` for str/bool, ``numeric`` for int/float, ``None`` for anything else."""
    if isinstance(value, bool | str):
        return "categorical"
    if isinstance(value, int | float):
        return "numeric"
    return None


def categorical_key(value: object) -> int:
    """Keyed 64-bit hash of a value, tagged by type so that ``"True"`` and ``True`` differ."""
    if value is None:
        return MISSING_KEY
    if isinstance(value, bool):
        data = b"b:1" if value else b"b:0"
    elif isinstance(value, str):
        data = b"s:" + value.encode("utf-8", "surrogatepass")
    elif isinstance(value, int):
        data = b"i:" + str(value).encode()
    elif isinstance(value, float):
        if not math.isfinite(value):
            return MISSING_KEY
        data = (
            b"i:" + str(int(value)).encode() if value.is_integer() else b"f:" + repr(value).encode()
        )
    else:
        data = b"o:" + repr(value).encode("utf-8", "surrogatepass")
    digest = hashlib.blake2b(data, digest_size=8, key=_HASH_KEY).digest()
    return int.from_bytes(digest, "little") % RESERVED_FLOOR


def numeric_keys(values: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Monotone grid keys of numbers (non-finite values are MISSING)."""
    x = np.asarray(values, dtype=np.float64)
    magnitude = np.abs(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        bucket = np.ceil(np.log(np.maximum(magnitude, _TINY)) / _LOG_GAMMA)
    offset = np.where(magnitude > _TINY, bucket - _I_MIN + 1, 0.0)
    offset = np.where(np.isfinite(offset), offset, 0.0).astype(np.int64)
    keys = _NUMERIC_ZERO + np.where(x < 0, -offset, offset)
    return np.where(np.isfinite(x), keys, MISSING_KEY).astype(np.int64)


class _KeyCache:
    """Bounded memo of categorical hashes: the hash is the cost, a few values repeat a lot."""

    def __init__(self) -> None:
        self._keys: dict[object, int] = {}

    def key(self, value: object) -> int:
        found = self._keys.get((type(value), value))
        if found is None:
            found = categorical_key(value)
            if len(self._keys) >= _CACHE_LIMIT:
                self._keys.clear()
            self._keys[(type(value), value)] = found
        return found


_CACHE: Final = _KeyCache()


def encode_values(values: Sequence[object], kind: FeatureKind) -> npt.NDArray[np.int64]:
    """Keys of one feature's values; in a numeric feature a non-number counts as MISSING."""
    if kind == "numeric":
        if isinstance(values, np.ndarray) and values.dtype.kind in "iuf":
            return numeric_keys(values)
        floats = np.fromiter(
            (
                float(v) if isinstance(v, int | float) and not isinstance(v, bool) else math.nan
                for v in values
            ),
            dtype=np.float64,
            count=len(values),
        )
        return numeric_keys(floats)
    key = _CACHE.key
    return np.fromiter(
        (MISSING_KEY if v is None else key(_plain(v)) for v in values),
        dtype=np.int64,
        count=len(values),
    )


def _plain(value: object) -> object:
    """numpy scalars hash like the Python values they stand for."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def mix64(keys: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
    """splitmix64 finaliser: a fixed bijection of 64-bit keys that scrambles their order."""
    z = np.asarray(keys).astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def group_numeric(
    keys: npt.NDArray[np.int64], totals: npt.NDArray[np.float64], bins: int
) -> tuple[npt.NDArray[np.int64], int]:
    """Equal-frequency bins of sorted grid keys: ``(row of each key, number of rows)``.

    A key goes to bin ``floor(bins * F)`` where F is the cumulative share of the weight at the
    key's midpoint, so bins hold about 1/bins of the weight each and a heavy value (a spike at 0)
    stays in one bin. Reserved keys (MISSING, OVERFLOW) get one row each after the bins.
    """
    rows = np.empty(len(keys), dtype=np.int64)
    regular = keys < RESERVED_FLOOR
    weight = totals[regular]
    total = float(weight.sum())
    if total > 0:
        middle = np.cumsum(weight) - weight / 2
        coarse = np.minimum((middle * bins / total).astype(np.int64), bins - 1)
        _, rows[regular] = np.unique(coarse, return_inverse=True)
        used = int(rows[regular].max()) + 1
    else:
        rows[regular] = 0
        used = int(regular.any())
    return _reserved_rows(keys, rows, regular, used)


def group_categorical(
    keys: npt.NDArray[np.int64], totals: npt.NDArray[np.float64], top_k: int
) -> tuple[npt.NDArray[np.int64], int]:
    """Exact top-K keys by weight (ties broken by key) plus one OTHER row for the rest.

    OVERFLOW (keys a capped table could not hold) joins OTHER; MISSING gets its own row.
    """
    rows = np.empty(len(keys), dtype=np.int64)
    regular = np.flatnonzero(keys < RESERVED_FLOOR)
    order = np.lexsort((keys[regular], -totals[regular]))
    kept = regular[order[:top_k]]
    rows[kept] = np.arange(len(kept))
    rest = regular[order[top_k:]]
    used = len(kept)
    overflow = keys == OVERFLOW_KEY
    if len(rest) or overflow.any():
        rows[rest] = used
        rows[overflow] = used
        used += 1
    missing = keys == MISSING_KEY
    if missing.any():
        rows[missing] = used
        used += 1
    other = (keys >= RESERVED_FLOOR) & ~missing & ~overflow
    if other.any():
        rows[other] = used
        used += 1
    return rows, used


def _reserved_rows(
    keys: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    regular: npt.NDArray[np.bool_],
    used: int,
) -> tuple[npt.NDArray[np.int64], int]:
    for reserved in np.unique(keys[~regular]):
        rows[keys == reserved] = used
        used += 1
    return rows, used


def hash_buckets(keys: npt.NDArray[np.int64], buckets: int) -> npt.NDArray[np.int64]:
    """Hashing to ``buckets`` rows (the alternative to top-K, kept for comparison); reserved
    keys get rows of their own after the buckets."""
    rows = (mix64(keys) % np.uint64(buckets)).astype(np.int64)
    reserved = keys >= RESERVED_FLOOR
    if reserved.any():
        _, inverse = np.unique(keys[reserved], return_inverse=True)
        rows[reserved] = buckets + inverse
    return rows


def quantile_edges(values: npt.ArrayLike, bins: int) -> npt.NDArray[np.float64]:
    """The ``bins - 1`` inner equal-frequency edges of a sample (finite values only)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return np.empty(0, dtype=np.float64)
    return np.unique(np.quantile(x, np.arange(1, bins) / bins))


def bin_codes(values: npt.ArrayLike, edges: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Bin of each value for frozen ``edges``; non-finite values get code ``len(edges) + 1``."""
    x = np.asarray(values, dtype=np.float64)
    codes = np.searchsorted(edges, x, side="right").astype(np.int64)
    return np.where(np.isfinite(x), codes, len(edges) + 1)
