"""From merged feature tables to findings: one per (transformation, feature, attribute or joint).

Per table: group the fine keys into rows (top-K + OTHER, or equal-frequency bins), then for every
protected attribute (over rows where it is known) and for the joint code (rows where all are
known) compute the Miller-Madow score with its Wald interval, an independence test, and the
sparsity guard. Holm's adjustment runs over every test of the call. Status:

- ``insufficient_support``: fewer than ``min_samples`` rows, or the guard trips. A guarded table
  is then judged by its cross-fitted predictive information instead (score = I_pred / H(S)), so
  an ID-like feature that is independent of the attribute is never flagged;
- ``proxy``: Holm p < alpha and the interval's lower bound of the score >= ``proxy``;
- ``review``: Holm p < alpha and the lower bound >= ``review``;
- ``clear`` otherwise.

``flagged`` is true exactly for ``review`` and ``proxy``. The defaults 0.01 and 0.05 mean a
balanced binary attribute would be predictable with Bayes error at most about 0.495 and 0.475
(Fano and Hellman-Raviv bounds); they are engineering defaults to calibrate on the real panel.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from interceptor.detectors.encoding import group_categorical, group_numeric
from interceptor.detectors.estimators import Z_95, summarize
from interceptor.detectors.guard import cross_fitted_information, sparsity_guard
from interceptor.detectors.protected import JOINT, ProtectedSchema
from interceptor.detectors.significance import holm, independence_test
from interceptor.detectors.table import FeatureTable

__all__ = [
    "ProxyFinding",
    "Reading",
    "Status",
    "Thresholds",
    "assess",
    "grouped_table",
    "worst_status",
]

_BAD_THRESHOLDS = "thresholds need 0 <= review <= proxy, got review={0} proxy={1}"
_BAD_ALPHA = "alpha must lie in (0, 1), got {0}"

Status = Literal["clear", "review", "proxy", "insufficient_support"]

#: Severity order for summaries: a feature with any untestable attribute is not "clear".
_SEVERITY: Final[dict[str, int]] = {
    "clear": 0,
    "insufficient_support": 1,
    "review": 2,
    "proxy": 3,
}


@dataclass(frozen=True)
class Thresholds:
    """Score thresholds (share of the attribute's entropy), test level and support floor."""

    review: float = 0.01
    proxy: float = 0.05
    alpha: float = 0.01
    min_samples: int = 500

    def __post_init__(self) -> None:
        if not 0 <= self.review <= self.proxy:
            raise ValueError(_BAD_THRESHOLDS.format(self.review, self.proxy))
        if not 0 < self.alpha < 1:
            raise ValueError(_BAD_ALPHA.format(self.alpha))


@dataclass(frozen=True)
class ProxyFinding:
    """How much one feature reveals about one protected attribute (or all of them jointly)."""

    transformation: str
    feature: str
    attribute: str  # attribute name or "joint"
    score: float
    ci_low: float
    ci_high: float
    p_value: float  # Holm-adjusted
    p_raw: float
    n: int  # rows with the attribute known (rounded N_eff)
    mi: float  # Miller-Madow, nats
    nmi: float  # I_MM / min(H(X), H(S))
    method: str
    predictive_information: float | None
    status: Status
    flagged: bool  # status in (review, proxy)
    reasons: tuple[str, ...] = field(default=())


class Reading(NamedTuple):
    """What the policy rules see for one feature: the worst attribute's view."""

    score: float
    flagged: bool
    status: str


TOP_K: Final = 1024
NUMERIC_BINS: Final = 16
PERMUTATIONS: Final = 199

NO_READING: Final = Reading(math.nan, False, "insufficient_support")


def worst_status(findings: Iterable[ProxyFinding]) -> Reading:
    """(max score, any flagged, most severe status) over a feature's findings."""
    found = list(findings)
    if not found:
        return NO_READING
    scores = [f.score for f in found if math.isfinite(f.score)]
    status = max((f.status for f in found), key=_SEVERITY.__getitem__)
    return Reading(max(scores) if scores else math.nan, any(f.flagged for f in found), status)


def grouped_table(
    table: FeatureTable, *, top_k: int = TOP_K, numeric_bins: int = NUMERIC_BINS
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The table's ``(rows, 2, joint)`` weights after grouping its keys, and its squared
    weights per joint code."""
    keys, totals = table.key_totals()
    if table.kind == "numeric":
        row_of_key, rows = group_numeric(keys, totals, numeric_bins)
    else:
        row_of_key, rows = group_categorical(keys, totals, top_k)
    return table.grouped(row_of_key, rows)


class _Measured(NamedTuple):
    score: float
    ci: tuple[float, float]
    p_raw: float
    n: int
    mi: float
    nmi: float
    method: str
    predictive: float | None
    guarded: bool
    reasons: tuple[str, ...]


class _Pending(NamedTuple):
    """One measured (feature, attribute) waiting for Holm's adjustment across the call."""

    transformation: str
    feature: str
    attribute: str
    measured: _Measured


def assess(
    tables: Mapping[tuple[str, str], FeatureTable],
    schema: ProtectedSchema,
    thresholds: Thresholds | None = None,
    rng: np.random.Generator | None = None,
    *,
    top_k: int = TOP_K,
    numeric_bins: int = NUMERIC_BINS,
    permutations: int = PERMUTATIONS,
) -> list[ProxyFinding]:
    """Findings for every (transformation, feature) table, attribute by attribute and joint.

    ``top_k`` and ``numeric_bins`` set the grouping of keys into rows; ``permutations`` the
    shuffles of a permutation test (only sparse tables, which are judged by held-out information,
    get one, so its p-value floor of 1/(B+1) never decides a flag).
    """
    thresholds = thresholds or Thresholds()
    rng = rng or np.random.default_rng(0)
    pending: list[_Pending] = []
    for (transformation, feature), table in sorted(tables.items()):
        w, w2 = grouped_table(table, top_k=top_k, numeric_bins=numeric_bins)
        distinct = table.distinct_seen if table.kind == "categorical" else None
        views = [
            (a.name, schema.marginal(w, i), float(schema.marginal(w2, i).sum()))
            for i, a in enumerate(schema.attributes)
        ]
        if len(schema.attributes) > 1:
            views.append((JOINT, schema.known(w), float(schema.known(w2).sum())))
        for attribute, folds, sum_w2 in views:
            measured = _measure(folds, sum_w2, distinct, thresholds, rng, permutations)
            pending.append(_Pending(transformation, feature, attribute, measured))
    adjusted = holm([p.measured.p_raw for p in pending])
    return [_decide(p, float(q), thresholds) for p, q in zip(pending, adjusted, strict=True)]


def _measure(
    folds: npt.NDArray[np.float64],
    sum_w2: float,
    distinct: int | None,
    thresholds: Thresholds,
    rng: np.random.Generator,
    permutations: int,
) -> _Measured:
    table = folds.sum(axis=1)
    keep = table.sum(axis=1) > 0
    table, folds = table[keep], folds[keep]
    n_eff = float(table.sum()) ** 2 / sum_w2 if sum_w2 > 0 else 0.0
    summary = summarize(table, n_eff)
    test = independence_test(table, n_eff, rng, permutations=permutations, plugin=summary.plugin)
    low, high = summary.interval()
    h_s = summary.h_s
    low_h = min(summary.h_x, h_s)
    nmi = summary.miller_madow / low_h if low_h > 0 else 0.0
    guard = sparsity_guard(n_eff, summary.m_x, summary.m_s, distinct)
    reasons = guard.reasons
    if summary.m_s < 2:
        reasons = (*reasons, "single_level")
    if n_eff < thresholds.min_samples:
        reasons = (*reasons, "few_samples")
    score = summary.score
    ci = (low / h_s, high / h_s) if h_s > 0 else (0.0, 0.0)
    predictive: float | None = None
    if reasons:
        crossed = cross_fitted_information(folds)
        predictive = crossed.information
        if crossed.h_s > 0:
            score = crossed.information / crossed.h_s
            ci = (
                (crossed.information - Z_95 * crossed.se) / crossed.h_s,
                (crossed.information + Z_95 * crossed.se) / crossed.h_s,
            )
        else:
            score, ci = 0.0, (0.0, 0.0)
    return _Measured(
        score=score,
        ci=ci,
        p_raw=test.p_value,
        n=round(n_eff),
        mi=summary.miller_madow,
        nmi=nmi,
        method=test.method,
        predictive=predictive,
        guarded=bool(reasons),
        reasons=reasons,
    )


def _decide(p: _Pending, p_holm: float, thresholds: Thresholds) -> ProxyFinding:
    m = p.measured
    status: Status
    low = m.ci[0]
    if m.guarded:
        # Judged by held-out information alone; never below the sample floor or with one level.
        supported = "few_samples" not in m.reasons and "single_level" not in m.reasons
        if supported and low >= thresholds.proxy:
            status = "proxy"
        elif supported and low >= thresholds.review:
            status = "review"
        else:
            status = "insufficient_support"
    elif p_holm < thresholds.alpha and low >= thresholds.proxy:
        status = "proxy"
    elif p_holm < thresholds.alpha and low >= thresholds.review:
        status = "review"
    else:
        status = "clear"
    return ProxyFinding(
        transformation=p.transformation,
        feature=p.feature,
        attribute=p.attribute,
        score=m.score,
        ci_low=m.ci[0],
        ci_high=m.ci[1],
        p_value=p_holm,
        p_raw=m.p_raw,
        n=m.n,
        mi=m.mi,
        nmi=m.nmi,
        method=m.method,
        predictive_information=m.predictive,
        status=status,
        flagged=status in ("review", "proxy"),
        reasons=m.reasons,
    )
