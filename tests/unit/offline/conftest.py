from __future__ import annotations

import math

import pytest

from interceptor.offline.result import (
    AttributeSummary,
    AuditResult,
    CombinationRow,
    ProxyRow,
    Thresholds,
)

HOSTILE = '<script>alert("x")</script>'


def _row(
    feature: str,
    attribute: str,
    score: float,
    status: str,
    *,
    p_value: float | None = None,
    predictive_information: float | None = None,
    reasons: tuple[str, ...] = (),
) -> ProxyRow:
    flagged = status in ("review", "proxy")
    return ProxyRow(
        feature=feature,
        attribute=attribute,
        score=score,
        ci_low=score - 0.01,
        ci_high=score + 0.01,
        p_value=p_value if p_value is not None else (1e-15 if flagged else 0.8),
        n=9_800,
        status=status,
        flagged=flagged,
        p_raw=1e-16,
        mi=score * 1.2,
        nmi=score,
        method="g",
        predictive_information=predictive_information,
        reasons=reasons,
    )


@pytest.fixture
def audit_result() -> AuditResult:
    """A scan with one proxy, one review, one ID-like feature and a hostile column name."""
    return AuditResult(
        file="panel & friends.csv",
        format="csv",
        rows=10_000,
        features=("zip3", "name_cluster", HOSTILE, "device_id"),
        attributes=(
            AttributeSummary("race", {"asian": 900, "white": 8_900}, 200),
            AttributeSummary("sex", {"female": 4_950, "male": 4_950}, 100),
        ),
        thresholds=Thresholds(review=0.01, proxy=0.05, alpha=0.01),
        proxies=[
            _row("zip3", "sex", 0.0001, "clear"),
            _row("zip3", "race", 0.42, "proxy"),
            _row("zip3", "joint", 0.2, "proxy"),
            _row("name_cluster", "sex", 0.03, "review"),
            _row("name_cluster", "race", -0.0004, "clear"),
            _row(HOSTILE, "race", 0.002, "clear"),
            _row(HOSTILE, "sex", math.nan, "clear", p_value=math.nan),
            _row(
                "device_id",
                "race",
                -0.1,
                "insufficient_support",
                predictive_information=-0.15,
                reasons=("sparse_cells", "id_like"),
            ),
        ],
        combinations=[
            CombinationRow("race", 9_800, 0.23, 0.9, 0.5, True, ("zip3", "name_cluster")),
            CombinationRow("sex", 9_900, 0.49, 0.52, -0.01, False, ("zip3", "name_cluster")),
        ],
        entity="user_id",
        notes=[f'column "{HOSTILE}": 3 values were not numbers and were counted as missing'],
        seconds=1.25,
    )
