"""The sparsity guard and the cross-fitted (held-out) predictive information.

A feature with about one value per user reveals "everything" to a plug-in or Miller-Madow
estimate (m_xs = m_x = N, so the correction vanishes): unique IDs independent of race scored
1.4557 nats, and the G-test called it significant. Such tables are marked insufficient support,
and the only number allowed to flag them is the information a model fitted on one fold keeps on
the other: H(S) - cross-entropy of q(s|x) (add-1/2 smoothing) on held-out rows, both ways round,
averaged. For IDs it is negative (-0.155 measured), because the held-out rows' values were never
seen; for a real proxy with many levels it is a lower bound of the information.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from interceptor.detectors.estimators import entropy

__all__ = ["CrossFitted", "GuardVerdict", "cross_fitted_information", "sparsity_guard"]

#: Minimum average count per (row, column) cell.
MIN_PER_CELL: Final = 5.0
#: At most one row per this many effective samples.
ROWS_PER_LEVEL: Final = 10.0
SMOOTHING: Final = 0.5


@dataclass(frozen=True, slots=True)
class GuardVerdict:
    """Whether a table is too sparse for the plug-in machinery, and why."""

    tripped: bool
    reasons: tuple[str, ...] = ()


def sparsity_guard(
    n_eff: float, m_x: int, m_s: int, distinct_seen: int | None = None
) -> GuardVerdict:
    """Trip when N_eff/(m_x m_s) < 5, m_x > N_eff/10, or the feature looks like an ID
    (more distinct values seen than N_eff/10, counted before any top-K grouping)."""
    reasons: list[str] = []
    if m_x * m_s == 0 or n_eff / (m_x * m_s) < MIN_PER_CELL:
        reasons.append("sparse_cells")
    if m_x > n_eff / ROWS_PER_LEVEL:
        reasons.append("many_levels")
    if distinct_seen is not None and distinct_seen > n_eff / ROWS_PER_LEVEL:
        reasons.append("id_like")
    return GuardVerdict(bool(reasons), tuple(reasons))


@dataclass(frozen=True, slots=True)
class CrossFitted:
    """Held-out predictive information (nats), its standard error, and the H(S) it is part of."""

    information: float
    se: float
    h_s: float


def cross_fitted_information(folds: npt.ArrayLike, smoothing: float = SMOOTHING) -> CrossFitted:
    """H(S) - held-out cross-entropy from a ``(rows, 2, columns)`` table of two folds' counts.

    q(s|x) = (n_xs + a) / (n_x + a m_s) is fitted on one fold and scored on the other; each half
    gives H_test(S) - CE_test and a standard error from the per-row log-ratio; the result is the
    weight-averaged pair.
    """
    t = np.asarray(folds, dtype=np.float64)
    t = t[:, :, t.sum(axis=(0, 1)) > 0]
    m_s = t.shape[2]
    if m_s < 2:
        return CrossFitted(0.0, 0.0, 0.0)
    values: list[float] = []
    variances: list[float] = []
    weights: list[float] = []
    for train, test in ((0, 1), (1, 0)):
        fit, held = t[:, train, :], t[:, test, :]
        n_held = float(held.sum())
        if n_held <= 0:
            continue
        q = (fit + smoothing) / (fit.sum(axis=1, keepdims=True) + smoothing * m_s)
        marginal = held.sum(axis=0) / n_held
        with np.errstate(divide="ignore"):
            gain = np.log(q) - np.log(marginal)[None, :]  # per-row log-ratio, by cell
        mask = held > 0
        mean = float((held[mask] * gain[mask]).sum() / n_held)
        spread = float((held[mask] * (gain[mask] - mean) ** 2).sum() / n_held)
        values.append(mean)
        variances.append(spread / n_held)
        weights.append(n_held)
    if not values:
        return CrossFitted(0.0, math.inf, entropy(t.sum(axis=(0, 1))))
    share = np.asarray(weights) / sum(weights)
    information = float((share * np.asarray(values)).sum())
    se = math.sqrt(float((share**2 * np.asarray(variances)).sum()))
    return CrossFitted(information, se, entropy(t.sum(axis=(0, 1))))
