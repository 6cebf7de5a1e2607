"""Estimators, tests, Holm, the guard and cross-fitting on small hand-checkable tables."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chi2_contingency

from interceptor.detectors.estimators import (
    confidence_interval,
    delta_se,
    entropy,
    miller_madow_mi,
    nmi_min,
    plugin_mi,
    uncertainty_coefficient,
)
from interceptor.detectors.guard import cross_fitted_information, sparsity_guard
from interceptor.detectors.significance import holm, independence_test

TABLE = np.array([[30.0, 10.0, 5.0], [10.0, 40.0, 5.0], [5.0, 5.0, 40.0]])


def test_estimators_by_hand() -> None:
    n = TABLE.sum()
    p = TABLE / n
    px, ps = p.sum(1), p.sum(0)
    ratio = np.log(p / np.outer(px, ps))
    mi = float((p * ratio).sum())
    assert math.isclose(plugin_mi(TABLE), mi)
    assert math.isclose(miller_madow_mi(TABLE), mi - (9 - 3 - 3 + 1) / (2 * n))
    assert math.isclose(miller_madow_mi(TABLE, n_eff=50), mi - 4 / 100)
    h_s = -(ps * np.log(ps)).sum()
    assert math.isclose(entropy(TABLE.sum(0)), h_s)
    assert math.isclose(uncertainty_coefficient(TABLE), miller_madow_mi(TABLE) / h_s)
    se = math.sqrt(((p * ratio**2).sum() - mi**2) / n)
    assert math.isclose(delta_se(TABLE), se)
    low, high = confidence_interval(TABLE)
    assert math.isclose(high - low, 2 * 1.959963984540054 * se)
    assert math.isclose(nmi_min(TABLE), mi / min(entropy(TABLE.sum(1)), h_s))
    assert plugin_mi(np.zeros((2, 2))) == 0.0


def test_g_test_matches_scipy_when_cells_are_full() -> None:
    result = independence_test(TABLE)
    g, p, dof, _ = chi2_contingency(TABLE, correction=False, lambda_="log-likelihood")
    assert result.method == "g" and result.dof == dof == 4
    assert math.isclose(result.statistic, g) and math.isclose(result.p_value, p)


def test_pearson_when_some_cells_are_thin() -> None:
    table = np.array([[300.0, 100.0, 4.0], [100.0, 400.0, 2.0]])
    result = independence_test(table)
    x2, p, _, _ = chi2_contingency(table, correction=False)
    assert result.method == "pearson"
    assert math.isclose(result.statistic, x2) and math.isclose(result.p_value, p)


def test_permutation_when_the_table_is_sparse_and_small() -> None:
    rng = np.random.default_rng(0)
    strong = np.diag(np.full(8, 6.0)) + 0.0
    result = independence_test(strong, rng=rng, permutations=999)
    assert result.method == "permutation"
    assert result.p_value == pytest.approx(1 / 1000)
    weak = rng.integers(0, 3, (10, 10)).astype(float)
    assert independence_test(weak, rng=rng).p_value > 0.01
    assert independence_test(np.array([[5.0, 5.0]])).p_value == 1.0


def test_effective_size_scales_the_test() -> None:
    full = independence_test(TABLE)
    half = independence_test(TABLE, n_eff=TABLE.sum() / 2)
    assert math.isclose(half.statistic, full.statistic / 2)


def test_holm() -> None:
    adjusted = holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])
    assert holm([]).size == 0
    assert holm([0.9, 0.8]).max() <= 1.0


def test_guard() -> None:
    assert not sparsity_guard(10_000, 50, 5).tripped
    assert sparsity_guard(1_000, 50, 5).reasons == ("sparse_cells",)
    assert "many_levels" in sparsity_guard(1_000, 200, 1).reasons
    assert sparsity_guard(100_000, 20, 6, distinct_seen=50_000).reasons == ("id_like",)


def test_cross_fitted_information() -> None:
    rng = np.random.default_rng(1)
    # IDs: every row its own value, so the held-out fold never saw its values and q(s|x) is
    # uniform: the cross-entropy is ln 4, above H(S) of a skewed attribute.
    ids = np.zeros((2_000, 2, 4))
    s = rng.choice(4, 2_000, p=[0.5, 0.3, 0.15, 0.05])
    ids[np.arange(2_000), rng.integers(0, 2, 2_000), s] = 1
    crossed = cross_fitted_information(ids)
    assert crossed.information == pytest.approx(crossed.h_s - math.log(4), abs=0.02)
    assert crossed.information < -0.2
    # A deterministic proxy: the information is (nearly) all of H(S).
    proxy = np.zeros((4, 2, 4))
    for x in range(4):
        proxy[x, :, x] = 500
    crossed = cross_fitted_information(proxy)
    assert crossed.information > 0.95 * crossed.h_s
    assert crossed.h_s == pytest.approx(math.log(4))
