"""Independence tests on a count table, and Holm's step-down adjustment.

Which test, measured on skewed 50x5 tables under independence (false-positive rate at .05):

- G = 2 N_eff I_plugin against chi2((m_x-1)(m_s-1)) is valid only when every expected cell is at
  least 5; with min expected 1.1 (N=2,000) it rejected 21% of the time;
- Pearson's X^2 held its level in the same sparse tables (0.050 at N=2,000, 0.050 at N=500);
- a permutation test is exact at any size; it is used where the table is sparse on average
  (N_eff / (m_x m_s) < 5, the sparsity guard's own criterion) and small (N_eff <= 20,000), where
  neither asymptotic distribution can be trusted. Its p-value cannot go below 1/(B+1), which is
  harmless: such tables are reported as insufficient support, not judged by p.

Decayed tables are tested at their effective size: the counts are rescaled to sum to N_eff
(and rounded, for the permutation test).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
from scipy.special import chdtrc, xlogy

from interceptor.detectors.estimators import summarize

__all__ = ["PERMUTATION_MAX_N", "TestMethod", "TestResult", "holm", "independence_test"]

TestMethod = Literal["g", "pearson", "permutation"]

#: Largest effective sample a permutation test is used for.
PERMUTATION_MAX_N: Final = 20_000
#: Expected count per cell below which the asymptotic tests are in doubt.
MIN_EXPECTED: Final = 5.0
_CHUNK_ELEMENTS: Final = 2_000_000
_STOP_AFTER: Final = 10


@dataclass(frozen=True, slots=True)
class TestResult:
    """An independence test: statistic, degrees of freedom, p-value and the test used."""

    __test__ = False  # not a pytest class

    statistic: float
    dof: int
    p_value: float
    method: TestMethod


def independence_test(
    table: npt.ArrayLike,
    n_eff: float | None = None,
    rng: np.random.Generator | None = None,
    *,
    permutations: int = 999,
    plugin: float | None = None,
) -> TestResult:
    """Test rows and columns of ``table`` for independence at effective size ``n_eff``.

    ``plugin`` is the table's plug-in MI when the caller has it already.
    """
    t = np.asarray(table, dtype=np.float64)
    t = t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]
    n = float(t.sum())
    if t.ndim != 2 or t.shape[0] < 2 or t.shape[1] < 2 or n <= 0:
        return TestResult(0.0, 0, 1.0, "g")
    n_eff = n if n_eff is None else float(n_eff)
    scaled = t * (n_eff / n)
    m_x, m_s = t.shape
    dof = (m_x - 1) * (m_s - 1)
    expected = np.outer(scaled.sum(axis=1), scaled.sum(axis=0)) / n_eff
    if expected.min() >= MIN_EXPECTED:
        mi = summarize(t).plugin if plugin is None else plugin
        g = 2.0 * n_eff * max(mi, 0.0)
        return TestResult(g, dof, _chi2_sf(g, dof), "g")
    if n_eff <= PERMUTATION_MAX_N and n_eff / (m_x * m_s) < MIN_EXPECTED:
        return _permutation(scaled, dof, rng or np.random.default_rng(0), permutations)
    x2 = float(((scaled - expected) ** 2 / expected).sum())
    return TestResult(x2, dof, _chi2_sf(x2, dof), "pearson")


def _chi2_sf(statistic: float, dof: int) -> float:
    """Upper tail of chi-square (the ufunc; ``scipy.stats.chi2.sf`` costs 50 us a call)."""
    return float(chdtrc(dof, statistic))


def _permutation(
    scaled: npt.NDArray[np.float64], dof: int, rng: np.random.Generator, permutations: int
) -> TestResult:
    """Shuffle column labels against row labels; the statistic is G (fixed margins).

    Sequential (Besag and Clifford 1991): shuffling stops at the L-th shuffle that reaches the
    observed statistic for the ``_STOP_AFTER``-th time, with p = h / L, so a clearly
    insignificant table costs a few dozen shuffles instead of ``permutations``; otherwise
    p = (exceedances + 1) / (permutations + 1).
    """
    counts = np.rint(scaled).astype(np.int64)
    n = int(counts.sum())
    m_x, m_s = counts.shape
    if n < 2:
        return TestResult(0.0, dof, 1.0, "permutation")
    cells = np.repeat(np.arange(m_x * m_s), counts.ravel())
    rows, cols = cells // m_s, cells % m_s
    # With both margins fixed, G = 2 (sum n ln n - const), so sum n ln n orders the tables.
    observed = float(xlogy(counts, counts).sum())
    row_n, col_n = counts.sum(axis=1), counts.sum(axis=0)
    constant = float(xlogy(row_n, row_n).sum() + xlogy(col_n, col_n).sum()) - n * math.log(n)
    g = max(2.0 * (observed - constant), 0.0)
    tolerance = 1e-9 * max(abs(observed), 1.0)
    limit = max(1, _CHUNK_ELEMENTS // max(n, m_x * m_s))
    exceed, done, chunk = 0, 0, 32
    while done < permutations:
        b = min(chunk, limit, permutations - done)
        shuffled = rng.permuted(np.broadcast_to(cols, (b, n)), axis=1)
        flat = (np.arange(b)[:, None] * (m_x * m_s) + rows * m_s + shuffled).ravel()
        tables = np.bincount(flat, minlength=b * m_x * m_s).reshape(b, m_x * m_s)
        hits = xlogy(tables, tables).sum(axis=1) >= observed - tolerance
        running = exceed + np.cumsum(hits)
        if running[-1] >= _STOP_AFTER:
            stop = int(np.argmax(running >= _STOP_AFTER)) + 1
            return TestResult(g, dof, _STOP_AFTER / (done + stop), "permutation")
        exceed, done, chunk = int(running[-1]), done + b, chunk * 2
    return TestResult(g, dof, (exceed + 1) / (permutations + 1), "permutation")


def holm(p_values: Sequence[float] | npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Holm's step-down adjusted p-values (family-wise error), in the input order."""
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m, dtype=np.float64)
    adjusted[order] = np.maximum.accumulate(stepped)
    return adjusted
