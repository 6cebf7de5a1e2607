"""Acceptance tests 4 and 7: false-positive rates under independence, plain and decayed.

Every statistic here depends on the table only, so replicate tables are drawn directly
(multinomial) instead of generating rows.
"""

from __future__ import annotations

import math

import numpy as np

from interceptor.detectors.assess import assess
from interceptor.detectors.protected import ProtectedSchema
from interceptor.detectors.significance import independence_test
from interceptor.detectors.table import FeatureTable
from tests.unit.detectors.designs import draw_tables, independent_table


def _rejections(
    tables: np.ndarray, seed: int, n_eff: float | None = None
) -> tuple[float, set[str]]:
    rng = np.random.default_rng(seed)
    results = [independence_test(t, n_eff, rng) for t in tables]
    return float(np.mean([r.p_value < 0.05 for r in results])), {r.method for r in results}


def test_4_g_test_calibrated_when_cells_are_full() -> None:
    tables = draw_tables(independent_table(), 100_000, 2_000, np.random.default_rng(41))
    rate, methods = _rejections(tables, 41)
    assert methods == {"g"}
    assert 0.035 <= rate <= 0.065


def test_4_sparse_tables_select_a_calibrated_test() -> None:
    population = independent_table()
    assert math.isclose(2_000 * population.min(), 1.1, rel_tol=0.02)
    tables = draw_tables(population, 2_000, 2_000, np.random.default_rng(42))
    rate, methods = _rejections(tables, 42)
    assert "g" not in methods
    assert methods <= {"pearson", "permutation"}
    assert 0.035 <= rate <= 0.065
    # The G-test on the same tables is what must not be used: it rejects far too often.
    g_rate = np.mean([_g_p_value(t) < 0.05 for t in tables])
    assert g_rate > 0.12


def test_4_permutation_test_calibrated_at_500_rows() -> None:
    tables = draw_tables(independent_table(), 500, 2_000, np.random.default_rng(43))
    rate, methods = _rejections(tables, 43)
    assert methods == {"permutation"}
    assert 0.035 <= rate <= 0.065


def _g_p_value(table: np.ndarray) -> float:
    from scipy.stats import chi2_contingency

    t = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    return float(chi2_contingency(t, correction=False, lambda_="log-likelihood")[1])


# ---------------------------------------------------------------------------- decayed windows

LAMBDA = 0.98
BATCHES = 300
BATCH = 1_000


def _decayed_tables(replicates: int, seed: int) -> tuple[np.ndarray, float, float]:
    """Decayed H0 tables (10x4), and the exact Sigma w and Sigma w^2 of every replicate."""
    rng = np.random.default_rng(seed)
    population = np.outer(np.linspace(1, 3, 10), [0.4, 0.3, 0.2, 0.1])
    population /= population.sum()
    age = np.arange(BATCHES)[::-1]
    weight = LAMBDA**age
    out = np.empty((replicates, 10, 4))
    for start in range(0, replicates, 100):
        size = min(100, replicates - start)
        batches = rng.multinomial(BATCH, population.ravel(), size=(BATCHES, size))
        out[start : start + size] = np.tensordot(weight, batches, axes=1).reshape(size, 10, 4)
    return out, float(BATCH * weight.sum()), float(BATCH * (weight**2).sum())


def test_7_decayed_windows_use_the_effective_sample_size() -> None:
    tables, sum_w, sum_w2 = _decayed_tables(1_000, 71)
    n_eff = sum_w**2 / sum_w2
    assert math.isclose(n_eff, 98_539, rel_tol=0.01)
    assert math.isclose(sum_w, 49_883, rel_tol=0.001)
    rate, methods = _rejections(tables, 71, n_eff)
    assert methods == {"g"}
    assert 0.035 <= rate <= 0.07
    # The two wrong sizes fail the other way round.
    assert _rejections(tables[:300], 71, sum_w)[0] < 0.01
    assert _rejections(tables[:300], 71, float(BATCHES * BATCH))[0] > 0.95


def test_7_table_decay_tracks_kish_n_eff() -> None:
    rng = np.random.default_rng(72)
    table = FeatureTable("numeric", 4)
    for _ in range(BATCHES):
        table.decay(LAMBDA)
        table.add(rng.integers(0, 10, BATCH), rng.integers(0, 4, BATCH), rng.integers(0, 2, BATCH))
    assert math.isclose(table.n_eff, 98_539, rel_tol=0.01)
    assert math.isclose(table.n, 49_883, rel_tol=0.01)
    assert table.rows_seen == BATCHES * BATCH


def test_7_findings_report_n_eff_not_sum_w_nor_events() -> None:
    rng = np.random.default_rng(73)
    schema = ProtectedSchema.from_mapping({"group": ["a", "b", "c", "d"]})
    table = FeatureTable("categorical", schema.joint_size)
    for _ in range(BATCHES):
        table.decay(LAMBDA)
        table.add(rng.integers(0, 10, BATCH), rng.integers(0, 4, BATCH), rng.integers(0, 2, BATCH))
    (finding,) = assess({("t", "f"): table}, schema)
    assert math.isclose(finding.n, 98_539, rel_tol=0.01)
    assert finding.method == "g"
    assert finding.status == "clear"
