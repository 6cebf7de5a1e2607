"""FeatureTable: counting, merging in any order, the key cap, decay and state round trips."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interceptor.detectors.encoding import OVERFLOW_KEY
from interceptor.detectors.table import FeatureTable

J = 6


def _table(rows: list[tuple[int, int, int]], *, max_keys: int = 65_536) -> FeatureTable:
    table = FeatureTable("categorical", J, max_keys=max_keys)
    if rows:
        keys, joint, folds = (np.array(c, dtype=np.int64) for c in zip(*rows, strict=True))
        table.add(keys, joint, folds)
    return table


rows_strategy = st.lists(
    st.tuples(st.integers(0, 40), st.integers(0, J - 1), st.integers(0, 1)), max_size=60
)


@settings(max_examples=150, deadline=None)
@given(rows_strategy, rows_strategy, rows_strategy)
def test_merge_equals_sequential_and_is_order_free(a: list, b: list, c: list) -> None:
    sequential = _table(a + b + c)
    ta, tb, tc = _table(a), _table(b), _table(c)
    assert ta + tb + tc == sequential
    assert ta + (tb + tc) == sequential
    assert tc + ta + tb == sequential
    assert tb + tc + ta == sequential


@settings(max_examples=150, deadline=None)
@given(rows_strategy, rows_strategy, rows_strategy, st.integers(1, 12))
def test_capped_merge_is_associative_and_commutative(a: list, b: list, c: list, cap: int) -> None:
    ta, tb, tc = (_table(r, max_keys=cap) for r in (a, b, c))
    sequential = _table(a + b + c, max_keys=cap)
    for merged in (ta + tb + tc, ta + (tb + tc), tc + tb + ta, (tc + ta) + tb):
        assert merged == sequential
    keys, totals = sequential.key_totals()
    assert (keys != OVERFLOW_KEY).sum() <= cap
    assert math.isclose(totals.sum(), len(a) + len(b) + len(c))


@settings(max_examples=60, deadline=None)
@given(rows_strategy, rows_strategy, st.floats(0.05, 1.0))
def test_decay_commutes_with_merge(a: list, b: list, factor: float) -> None:
    left = _table(a) + _table(b)
    left.decay(factor)
    da, db = _table(a), _table(b)
    da.decay(factor)
    db.decay(factor)
    right = da + db
    for x, y in zip(left.arrays(), right.arrays(), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-12)


def test_cap_folds_the_rest_into_overflow_and_estimates_distinct_values() -> None:
    rng = np.random.default_rng(1)
    table = FeatureTable("categorical", J, max_keys=1_000)
    n = 50_000
    table.add(rng.permutation(n), rng.integers(0, J, n), rng.integers(0, 2, n))
    keys, totals = table.key_totals()
    assert len(keys) == 1_001 and keys[-1] == OVERFLOW_KEY
    assert table.saturated
    assert totals.sum() == n
    assert abs(table.distinct_seen - n) / n < 0.1  # bottom-k estimate, sd about 3%


def test_counts_weights_and_effective_size() -> None:
    table = FeatureTable("numeric", J)
    table.add(np.array([3, 3, 5]), np.array([0, 0, 1]), np.array([0, 0, 1]))
    assert table.n == 3 and table.n_eff == 3 and table.rows_seen == 3
    table.add(np.array([5]), np.array([1]), np.array([1]), weights=np.array([2.0]))
    assert table.sum_w == 5 and table.sum_w2 == 7
    assert math.isclose(table.n_eff, 25 / 7)


def test_decay_drops_dust() -> None:
    table = _table([(1, 0, 0), (2, 1, 1)])
    for _ in range(25):
        table.decay(0.5)
    assert table.cells == 0


@pytest.mark.parametrize("bad", [(-1, 0, 0), (1, J, 0), (1, 0, 2)])
def test_out_of_range_inputs_are_refused(bad: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError):
        _table([bad])


def test_tables_of_different_kinds_do_not_merge() -> None:
    with pytest.raises(ValueError, match="kind"):
        _ = FeatureTable("numeric", J) + FeatureTable("categorical", J)


def test_state_round_trips_exactly_through_json() -> None:
    rng = np.random.default_rng(2)
    table = FeatureTable("categorical", J, max_keys=50)
    table.add(rng.integers(0, 200, 5_000), rng.integers(0, J, 5_000), rng.integers(0, 2, 5_000))
    table.decay(0.37)
    state = json.loads(json.dumps(table.to_state()))
    restored = FeatureTable.from_state(state)
    assert restored == table
    assert restored.distinct_seen == table.distinct_seen
    restored.add(np.array([1]), np.array([0]), np.array([0]))
    assert restored != table


def test_corrupt_state_is_refused() -> None:
    state = _table([(1, 0, 0), (2, 0, 0)]).to_state()
    state["w"] = state["w"][:8]
    with pytest.raises(ValueError, match="not valid"):
        FeatureTable.from_state(state)
    with pytest.raises(ValueError, match="not valid"):
        FeatureTable.from_state({"version": 1})
