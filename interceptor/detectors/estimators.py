"""Information estimates from a 2-D table of (possibly decayed) counts, in nats.

Rows are feature codes, columns attribute codes. Proportions come from the table itself; the
sample size that enters a bias correction or a standard error is ``n_eff`` (Kish's effective size
when the counts are decayed, the plain count otherwise), never the raw event count.

- plug-in MI: sum p ln(p / (p_x p_s)), biased upwards by about (r-1)(c-1)/(2N);
- Miller-Madow: plug-in minus (m_xs - m_x - m_s + 1)/(2N) over non-empty cells, rows, columns;
- score U(S|X) = I_MM / H(S): the share of the attribute's entropy that the feature reveals;
- delta-method SE sqrt((sum p L^2 - I^2)/N) with L = ln(p/(p_x p_s)), for a Wald interval (the
  non-central chi-square "+dof" interval and percentile bootstraps under-cover badly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "TableSummary",
    "confidence_interval",
    "contingency",
    "delta_se",
    "entropy",
    "miller_madow_mi",
    "nmi_arithmetic",
    "nmi_min",
    "plugin_mi",
    "summarize",
    "uncertainty_coefficient",
]

Z_95: Final = 1.959963984540054

Counts = npt.NDArray[np.float64]


def contingency(
    x: npt.ArrayLike, s: npt.ArrayLike, shape: tuple[int, int] | None = None
) -> npt.NDArray[np.float64]:
    """Count table of two non-negative integer code arrays (one ``bincount``)."""
    xa, sa = np.asarray(x, dtype=np.int64), np.asarray(s, dtype=np.int64)
    rows, cols = shape or (int(xa.max()) + 1 if xa.size else 0, int(sa.max()) + 1 if sa.size else 0)
    flat = np.bincount(xa * cols + sa, minlength=rows * cols)
    return flat.reshape(rows, cols).astype(np.float64)


def entropy(counts: npt.ArrayLike) -> float:
    """Plug-in entropy of the distribution given by counts (any shape, flattened)."""
    c = np.asarray(counts, dtype=np.float64).ravel()
    c = c[c > 0]
    total = c.sum()
    if total <= 0:
        return 0.0
    return float(math.log(total) - (c * np.log(c)).sum() / total)


@dataclass(frozen=True, slots=True)
class TableSummary:
    """Everything the estimators derive from one table, computed in one pass."""

    n: float  # total weight
    n_eff: float
    plugin: float
    miller_madow: float
    h_x: float
    h_s: float
    se: float
    m_xs: int
    m_x: int
    m_s: int

    @property
    def score(self) -> float:
        """U(S|X) = I_MM / H(S); 0 when the attribute has a single observed level."""
        return self.miller_madow / self.h_s if self.h_s > 0 else 0.0

    def interval(self, z: float = Z_95) -> tuple[float, float]:
        """Wald interval of I_MM."""
        return self.miller_madow - z * self.se, self.miller_madow + z * self.se


def summarize(table: npt.ArrayLike, n_eff: float | None = None) -> TableSummary:
    """Plug-in and Miller-Madow MI, entropies and delta SE of a table.

    ``n_eff`` defaults to the table's total (undecayed counts).
    """
    t = np.asarray(table, dtype=np.float64)
    rows = t.sum(axis=1)
    cols = t.sum(axis=0)
    n = float(rows.sum())
    if n <= 0:
        return TableSummary(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0)
    n_eff = n if n_eff is None else float(n_eff)
    mask = t > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log(t * n / np.outer(rows, cols))[mask]
    p = t[mask] / n
    plugin = float(p @ log_ratio)
    second = float(p @ (log_ratio * log_ratio))
    m_xs, m_x, m_s = len(p), int(np.count_nonzero(rows)), int(np.count_nonzero(cols))
    correction = (m_xs - m_x - m_s + 1) / (2 * n_eff) if n_eff > 0 else 0.0
    se = math.sqrt(max(second - plugin * plugin, 0.0) / n_eff) if n_eff > 0 else math.inf
    return TableSummary(
        n=n,
        n_eff=n_eff,
        plugin=plugin,
        miller_madow=plugin - correction,
        h_x=_entropy_of(rows, n),
        h_s=_entropy_of(cols, n),
        se=se,
        m_xs=m_xs,
        m_x=m_x,
        m_s=m_s,
    )


def _entropy_of(counts: npt.NDArray[np.float64], total: float) -> float:
    c = counts[counts > 0]
    return float(math.log(total) - float(c @ np.log(c)) / total)


def plugin_mi(table: npt.ArrayLike) -> float:
    """Plug-in mutual information (equals sklearn's ``mutual_info_score`` on the same table)."""
    return summarize(table).plugin


def miller_madow_mi(table: npt.ArrayLike, n_eff: float | None = None) -> float:
    return summarize(table, n_eff).miller_madow


def uncertainty_coefficient(table: npt.ArrayLike, n_eff: float | None = None) -> float:
    """U(S|X) = I_MM / H(S), the detector's score."""
    return summarize(table, n_eff).score


def delta_se(table: npt.ArrayLike, n_eff: float | None = None) -> float:
    return summarize(table, n_eff).se


def confidence_interval(
    table: npt.ArrayLike, n_eff: float | None = None, z: float = Z_95
) -> tuple[float, float]:
    """Wald interval I_MM +- z * SE_delta (in nats; divide by H(S) for the score's interval)."""
    return summarize(table, n_eff).interval(z)


def nmi_min(table: npt.ArrayLike, mi: float | None = None) -> float:
    """FairTest's NMI = I / min(H(X), H(S)) (plug-in I unless ``mi`` is given)."""
    s = summarize(table)
    low = min(s.h_x, s.h_s)
    return (s.plugin if mi is None else mi) / low if low > 0 else 0.0


def nmi_arithmetic(table: npt.ArrayLike, mi: float | None = None) -> float:
    """2I / (H(X) + H(S)): sklearn's default ``normalized_mutual_info_score`` (reported only)."""
    s = summarize(table)
    mean = (s.h_x + s.h_s) / 2
    return (s.plugin if mi is None else mi) / mean if mean > 0 else 0.0
