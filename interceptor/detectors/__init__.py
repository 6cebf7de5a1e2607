"""Proxy detectors: how much each feature reveals about protected attributes of an audit panel.

Pure numpy (no Kafka): contingency tables against a joint protected code that merge by ``+``,
Miller-Madow information with delta-method intervals, calibrated independence tests with Holm's
adjustment, a sparsity guard with cross-fitted information for ID-like features, and a cross-fitted
boosted probe for feature combinations. Design and measurements: reference/proxy-detection.md.
"""

from __future__ import annotations

from interceptor.detectors.assess import (
    ProxyFinding,
    Reading,
    Status,
    Thresholds,
    assess,
    worst_status,
)
from interceptor.detectors.bank import Assessment, DetectorBank
from interceptor.detectors.combination import CombinationResult, combination_probe
from interceptor.detectors.offline import assess_columns, infer_schema, row_folds
from interceptor.detectors.protected import (
    DEFAULT_SCHEMA,
    JOINT,
    ProtectedAttribute,
    ProtectedSchema,
)
from interceptor.detectors.snapshot import BankSnapshot
from interceptor.detectors.table import FeatureTable

__all__ = [
    "DEFAULT_SCHEMA",
    "JOINT",
    "Assessment",
    "BankSnapshot",
    "CombinationResult",
    "DetectorBank",
    "FeatureTable",
    "ProtectedAttribute",
    "ProtectedSchema",
    "ProxyFinding",
    "Reading",
    "Status",
    "Thresholds",
    "assess",
    "assess_columns",
    "combination_probe",
    "infer_schema",
    "row_folds",
    "worst_status",
]
