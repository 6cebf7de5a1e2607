"""Cell areas of coordinates and geohashes at 37°N, the basis of the precise-location rule."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interceptor.policy.geo import (
    decimal_places,
    degree_cell_km2,
    geo_cells_km2,
    geohash_cell_km2,
    is_geohash,
)


@pytest.mark.parametrize(
    ("value", "decimals"),
    [(37.77493, 5), (37.8, 1), (38, 0), (38.0, 0), (1e-05, 5), (-122.41942, 5), (1e20, 0)],
)
def test_decimal_places_of_the_shortest_repr(value: float, decimals: int) -> None:
    assert decimal_places(value) == decimals


def test_reference_areas_match_the_catalog() -> None:
    assert degree_cell_km2(2) == pytest.approx(0.99, abs=0.005)  # 0.01° at 37°N: precise
    assert degree_cell_km2(1) == pytest.approx(99.0, rel=0.01)
    assert 18 <= geohash_cell_km2(5) <= 20
    assert 0.56 <= geohash_cell_km2(6) <= 0.63


def test_cells_of_a_column_of_values() -> None:
    cells = geo_cells_km2([37.77493, 37.8, 38, "9q8yy", "9Q8YYK", "9q8yya", True, None, "x" * 13])
    assert cells[0] == pytest.approx(degree_cell_km2(5))
    assert cells[1] == pytest.approx(99.0, rel=0.01)
    assert cells[2] == pytest.approx(degree_cell_km2(0))
    assert cells[3] == pytest.approx(geohash_cell_km2(5))
    assert cells[4] == pytest.approx(geohash_cell_km2(6))  # either case
    assert all(math.isnan(c) for c in cells[5:])  # 'a' is not in the alphabet; bools, nulls


def test_geohash_alphabet_excludes_a_i_l_o() -> None:
    assert is_geohash("0123456789bcdefghjkmnpqrstuvwxyz"[:12])
    assert not any(is_geohash(c) for c in "ailo")
    assert not is_geohash("")


@given(st.floats(-180, 180, allow_nan=False), st.integers(0, 12))
def test_vectorised_cells_agree_with_the_repr_definition(value: float, digits: int) -> None:
    rounded = round(value, digits)
    assert geo_cells_km2([rounded])[0] == degree_cell_km2(decimal_places(rounded))
