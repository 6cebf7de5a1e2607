"""Acceptance tests 1-3 of the proxy-detection reference: parity, merging, estimator accuracy."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import mutual_info_score, normalized_mutual_info_score

from interceptor.detectors.encoding import bin_codes, group_numeric, numeric_keys, quantile_edges
from interceptor.detectors.estimators import TableSummary, nmi_arithmetic, plugin_mi, summarize
from interceptor.detectors.table import FeatureTable
from tests.unit.detectors.designs import (
    DISCRETE_MI,
    GAUSS_16_BINS,
    GAUSS_MI,
    MIXTURE_MI,
    P_S,
    dependent_table,
    draw_tables,
)


def _dense(table: FeatureTable, rows: int) -> np.ndarray:
    keys, _ = table.key_totals()
    row_of_key = keys.astype(np.int64)  # keys are the codes themselves here
    w, _ = table.grouped(row_of_key, rows)
    return w.sum(axis=1)


def test_1_parity_with_sklearn_and_shard_merge() -> None:
    rng = np.random.default_rng(11)
    n = 100_000
    x = rng.integers(0, 50, n)
    s = (x % 5 + rng.integers(0, 3, n)) % 5  # dependent
    table = FeatureTable("categorical", 5)
    folds = rng.integers(0, 2, n)
    table.add(x, s, folds)
    counts = _dense(table, 50)
    assert abs(plugin_mi(counts) - mutual_info_score(x, s)) <= 1e-9
    assert abs(nmi_arithmetic(counts) - normalized_mutual_info_score(x, s)) <= 1e-9

    shards = []
    for part in np.array_split(np.arange(n), 8):
        shard = FeatureTable("categorical", 5)
        shard.add(x[part], s[part], folds[part])
        shards.append(shard)
    total = shards[0]
    for shard in shards[1:]:
        total = total + shard
    assert total == table
    merged = _dense(total, 50)
    assert np.array_equal(merged, counts)
    assert abs(plugin_mi(merged) - plugin_mi(counts)) <= 1e-12


def _binned_estimate(x: np.ndarray, s: np.ndarray, bins: int, columns: int) -> TableSummary:
    """The engine's numeric path: fine grid keys, grouped into equal-frequency bins."""
    table = FeatureTable("numeric", columns)
    table.add(numeric_keys(x), s, np.zeros(len(x), dtype=np.int64))
    keys, totals = table.key_totals()
    row_of_key, rows = group_numeric(keys, totals, bins)
    w, _ = table.grouped(row_of_key, rows)
    return summarize(w.sum(axis=1))


def _gaussian_draws(n: int, draws: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    mm, plugin = np.empty(draws), np.empty(draws)
    for i in range(draws):
        z = rng.standard_normal((n, 2))
        x, y = z[:, 0], 0.5 * z[:, 0] + np.sqrt(0.75) * z[:, 1]
        s = bin_codes(y, quantile_edges(y, 16))
        summary = _binned_estimate(x, s, 16, 16)
        mm[i], plugin[i] = summary.miller_madow, summary.plugin
    return mm, plugin


def test_2_gaussian_sixteen_bins_at_1e5() -> None:
    mm, plugin = _gaussian_draws(100_000, 200, seed=21)
    assert np.abs(mm - GAUSS_16_BINS).max() <= 0.009
    assert np.abs(mm - GAUSS_MI).max() <= 0.015
    assert 0.0005 <= plugin.mean() - GAUSS_16_BINS <= 0.0017


def test_2_gaussian_sixteen_bins_at_1e4() -> None:
    mm, _ = _gaussian_draws(10_000, 400, seed=22)
    assert np.abs(mm - GAUSS_16_BINS).max() <= 0.025


def test_2_continuous_feature_against_categorical_attribute() -> None:
    rng = np.random.default_rng(23)
    for _ in range(20):
        s = rng.choice(5, size=100_000, p=P_S)
        x = rng.normal(0.5 * s, 1.0)
        summary = _binned_estimate(x, s, 32, 5)
        assert abs(summary.miller_madow - MIXTURE_MI) <= 0.012


def test_2_exact_frozen_edges_agree_with_the_grid() -> None:
    """The offline path (exact sample quantiles) and the mergeable grid give nearly the same."""
    rng = np.random.default_rng(24)
    z = rng.standard_normal((100_000, 2))
    x, y = z[:, 0], 0.5 * z[:, 0] + np.sqrt(0.75) * z[:, 1]
    s = bin_codes(y, quantile_edges(y, 16))
    exact = np.zeros((18, 16))
    np.add.at(exact, (bin_codes(x, quantile_edges(x, 16)), s), 1)
    grid = _binned_estimate(x, s, 16, 16)
    assert abs(summarize(exact).miller_madow - grid.miller_madow) <= 0.002


@pytest.fixture(scope="module")
def discrete_draws() -> dict[int, list[TableSummary]]:
    rng = np.random.default_rng(31)
    population = dependent_table()
    assert abs(summarize(population).plugin - DISCRETE_MI) < 1e-9
    return {
        n: [summarize(t) for t in draw_tables(population, n, 500, rng)] for n in (10_000, 100_000)
    }


def test_3_miller_madow_is_unbiased_on_the_known_table(
    discrete_draws: dict[int, list[TableSummary]],
) -> None:
    mm = np.array([s.miller_madow for s in discrete_draws[10_000]])
    assert abs(mm.mean() - DISCRETE_MI) <= 0.001
    assert np.abs(mm - DISCRETE_MI).max() <= 0.017


def test_3_wald_interval_covers(discrete_draws: dict[int, list[TableSummary]]) -> None:
    for n in (10_000, 100_000):
        covered = [lo <= DISCRETE_MI <= hi for lo, hi in (s.interval() for s in discrete_draws[n])]
        assert 0.92 <= np.mean(covered) <= 0.98, n


def test_3_plugin_bias_regression_guard(discrete_draws: dict[int, list[TableSummary]]) -> None:
    plugin = np.array([s.plugin for s in discrete_draws[10_000]])
    assert abs(plugin.mean() - DISCRETE_MI - 0.0099) <= 0.001
