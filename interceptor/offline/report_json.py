"""``interceptor audit --json``: the scan's findings as one JSON document.

The contract (issue 3, item 4) is ``{"proxies": [{"feature", "attribute", "score", "ci_low",
"ci_high", "p_value", "n", "status", "flagged"}]}``; ``score`` is the Miller-Madow-corrected mutual
information divided by the attribute's entropy, over the rows where the attribute is known, and
``flagged`` is true while ``status`` is ``review`` or ``proxy``. The other keys are additions:
what was scanned, the thresholds, the combination detector and the engine's extra evidence.
Numbers that do not exist (a p-value for a feature with too little support) are ``null``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson

from interceptor.offline.result import AuditResult, CombinationRow, ProxyRow

__all__ = ["audit_json", "write_json"]


def _number(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _proxy(row: ProxyRow) -> dict[str, Any]:
    return {
        "feature": row.feature,
        "attribute": row.attribute,
        "score": _number(row.score),
        "ci_low": _number(row.ci_low),
        "ci_high": _number(row.ci_high),
        "p_value": _number(row.p_value),
        "n": row.n,
        "status": row.status,
        "flagged": row.flagged,
        "p_raw": _number(row.p_raw),
        "mi": _number(row.mi),
        "nmi": _number(row.nmi),
        "method": row.method,
        "predictive_information": _number(row.predictive_information),
        "feature_kind": row.feature_kind,
        "reasons": list(row.reasons),
    }


def _combination(row: CombinationRow) -> dict[str, Any]:
    return {
        "attribute": row.attribute,
        "n": row.n,
        "ber": _number(row.ber),
        "auc": _number(row.auc),
        "predictive_information": _number(row.predictive_information),
        "flagged": row.flagged,
        "features": list(row.features),
    }


def audit_json(result: AuditResult) -> dict[str, Any]:
    """The document ``--json`` writes; proxies sorted flagged first, then by score."""
    return {
        "file": result.file,
        "format": result.format,
        "rows": result.rows,
        "entity": result.entity,
        "features": list(result.features),
        "protected": {
            attribute.name: {"levels": dict(attribute.levels), "unknown": attribute.unknown}
            for attribute in result.attributes
        },
        "thresholds": {
            "review": result.thresholds.review,
            "proxy": result.thresholds.proxy,
            "alpha": result.thresholds.alpha,
        },
        "flagged_features": result.flagged_features,
        "proxies": [_proxy(row) for row in result.sorted_proxies()],
        "combinations": [_combination(row) for row in result.combinations],
        "notes": list(result.notes),
        "seconds": round(result.seconds, 3),
    }


def write_json(result: AuditResult, path: Path) -> None:
    """Write :func:`audit_json` to ``path``, indented, UTF-8."""
    data = orjson.dumps(audit_json(result), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    path.write_bytes(data)
