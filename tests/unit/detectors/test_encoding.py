"""Value keys: stable across processes, type-tagged, monotone for numbers; row groupings."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from interceptor.detectors.encoding import (
    KEY_LIMIT,
    MISSING_KEY,
    OTHER_KEY,
    OVERFLOW_KEY,
    RESERVED_FLOOR,
    bin_codes,
    categorical_key,
    encode_values,
    group_categorical,
    group_numeric,
    hash_buckets,
    numeric_keys,
    quantile_edges,
)


def test_categorical_keys_are_pinned_and_the_same_in_another_process() -> None:
    values = ["a", "zip-94103", True, False, "True", 7, 7.5]
    here = [categorical_key(v) for v in values]
    code = (
        "from interceptor.detectors.encoding import categorical_key;"
        f"print([categorical_key(v) for v in {values!r}])"
    )
    there = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert there.strip() == str(here)
    assert len(set(here)) == len(here)  # "True" and True differ
    assert all(0 <= k < RESERVED_FLOOR for k in here)
    assert categorical_key(7.0) == categorical_key(7)


def test_missing_values() -> None:
    assert encode_values([None, "x"], "categorical")[0] == MISSING_KEY
    keys = encode_values([None, math.nan, math.inf, "text", True, 1.5], "numeric")
    assert keys[:5].tolist() == [MISSING_KEY] * 5
    assert keys[5] != MISSING_KEY


finite = st.floats(allow_nan=False, allow_infinity=False)


@given(finite, finite)
def test_numeric_keys_are_monotone(a: float, b: float) -> None:
    ka, kb = numeric_keys([a, b])
    if a <= b:
        assert ka <= kb
    assert 0 <= ka < RESERVED_FLOOR


def test_numeric_grid_resolution_is_about_one_percent() -> None:
    x = np.geomspace(1e-3, 1e6, 100_000)
    keys = numeric_keys(x)
    for key in np.unique(keys)[1:-1]:
        members = x[keys == key]
        assert members.max() / members.min() <= 1.0203
    assert numeric_keys([0.0, -0.0, 1e-320]).tolist() == [numeric_keys([0.0])[0]] * 3


def test_numeric_grouping_gives_equal_frequency_bins() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(100_000)
    keys, counts = np.unique(np.append(numeric_keys(x), MISSING_KEY), return_counts=True)
    rows, used = group_numeric(keys, counts.astype(float), 16)
    assert used == 17
    assert rows[-1] == 16  # MISSING after the bins
    per_bin = np.bincount(rows[:-1], weights=counts[:-1])
    assert np.all(np.abs(per_bin / 100_000 - 1 / 16) < 0.004)
    assert np.all(np.diff(rows[:-1]) >= 0)  # order kept


def test_categorical_grouping_keeps_top_k_with_deterministic_ties() -> None:
    keys = np.array([5, 9, 11, 20, OVERFLOW_KEY, OTHER_KEY, MISSING_KEY])
    totals = np.array([3.0, 7.0, 3.0, 1.0, 4.0, 2.0, 9.0])
    rows, used = group_categorical(keys, totals, 2)
    # top 2: key 9 (7), then key 5 (3, ties with 11 broken by key); OTHER row takes the rest.
    assert rows[1] == 0 and rows[0] == 1
    assert rows[2] == rows[3] == rows[4] == 2
    assert rows[6] == 3 and rows[5] == 4 and used == 5


def test_hash_buckets_keep_reserved_keys_apart() -> None:
    rows = hash_buckets(np.array([1, 2, 3, MISSING_KEY]), 4)
    assert rows[:3].max() < 4 and rows[3] == 4


def test_frozen_edges() -> None:
    x = np.arange(100.0)
    edges = quantile_edges(x, 4)
    assert edges.tolist() == [24.75, 49.5, 74.25]
    assert bin_codes([0, 30, 99, math.nan], edges).tolist() == [0, 1, 3, 4]
    assert KEY_LIMIT - 16 == RESERVED_FLOOR
