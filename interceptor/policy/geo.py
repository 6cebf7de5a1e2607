"""How large an area a location value pins down, for the precise-geolocation test.

CCPA 1798.140(w) calls a location precise when it places a consumer within a circle of radius
1,850 ft (about 0.999 km²). A coordinate with ``d`` decimal places, or a geohash of some length,
stands for a cell; the engine reports that cell's area in km² as ``feature.geo_cell_km2``. Areas
use the flat-cell approximation at 37°N, the middle of California, where this pack applies:
0.01° is about 0.99 km² (precise), one decimal about 99 km², geohash 5 about 19 km².
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Final

import numpy as np
import numpy.typing as npt

from interceptor.scalars import Scalar

__all__ = [
    "GEOHASH_ALPHABET",
    "REFERENCE_LATITUDE_DEG",
    "decimal_places",
    "degree_cell_km2",
    "geo_cells_km2",
    "geohash_cell_km2",
    "is_geohash",
]

GEOHASH_ALPHABET: Final = "0123456789bcdefghjkmnpqrstuvwxyz"
REFERENCE_LATITUDE_DEG: Final = 37.0
KM_PER_DEGREE: Final = 111.32
_COS_REF: Final = math.cos(math.radians(REFERENCE_LATITUDE_DEG))
_GEOHASH_CHARS: Final = frozenset(GEOHASH_ALPHABET)
_MAX_DECIMALS: Final = 17
_EXACT_LIMIT: Final = float(2**53)


def _cell_km2(lat_deg: float, lon_deg: float) -> float:
    return (lat_deg * KM_PER_DEGREE) * (lon_deg * KM_PER_DEGREE * _COS_REF)


def degree_cell_km2(decimals: int) -> float:
    """Area of a cell 10^-decimals degrees square."""
    side = 10.0**-decimals
    return _cell_km2(side, side)


def geohash_cell_km2(length: int) -> float:
    """Area of a geohash cell of ``length`` characters (5 bits each, longitude bit first)."""
    bits = 5 * length
    lon_bits, lat_bits = (bits + 1) // 2, bits // 2
    return _cell_km2(180.0 / 2**lat_bits, 360.0 / 2**lon_bits)


def is_geohash(text: str) -> bool:
    """A 1–12 character string over the geohash alphabet (either case)."""
    return 1 <= len(text) <= 12 and set(text.lower()) <= _GEOHASH_CHARS


def decimal_places(value: float) -> int:
    """Digits after the point in the shortest repr of ``value`` (37.77493 → 5, 38.0 → 0)."""
    exponent = Decimal(repr(float(value))).normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite values only
    return max(0, -exponent)


_DEGREE_AREAS: Final = np.array([degree_cell_km2(d) for d in range(_MAX_DECIMALS + 1)])


def _numeric_cells(numbers: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Vectorised :func:`decimal_places` → area: the fewest decimals that reproduce each value.

    ``round(v, d) == v`` holds first at the ``d`` of ``v``'s shortest repr, because rounding to
    ``d`` places lands on the double nearest the ``d``-digit decimal, which is ``v`` itself.
    """
    result = np.full(numbers.shape, np.nan)
    pending = np.isfinite(numbers)
    magnitude = np.abs(numbers)
    for d in range(_MAX_DECIMALS + 1):
        if not pending.any():
            break
        # Beyond 2**53 the scaled value is no longer exact and rounding proves nothing.
        exact = magnitude < _EXACT_LIMIT / 10.0**d
        hit = pending & exact & (np.round(numbers, d) == numbers)
        result[hit] = _DEGREE_AREAS[d]
        pending &= ~hit
    if pending.any():  # many digits on a large magnitude: ask the exact repr
        for i in np.flatnonzero(pending):
            result[i] = degree_cell_km2(decimal_places(float(numbers[i])))
    return result


def geo_cells_km2(values: Sequence[Scalar]) -> npt.NDArray[np.float64]:
    """Cell area per value of a ``geo`` feature; NaN where the value names no cell."""
    n = len(values)
    numbers = np.full(n, np.nan)
    result = np.full(n, np.nan)
    numeric: list[int] = []
    for i, value in enumerate(values):
        if type(value) is float or type(value) is int:
            numbers[i] = value
            numeric.append(i)
        elif isinstance(value, str) and is_geohash(value):
            result[i] = geohash_cell_km2(len(value))
    if numeric:
        index = np.array(numeric)
        result[index] = _numeric_cells(numbers[index])
    return result
