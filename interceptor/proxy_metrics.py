"""Detector figures into Prometheus gauges (DESIGN section 7): scores, flags, samples, coverage.

Labels are transformation, feature and attribute names, all bounded by the registered manifests
and the configured protected attributes; never a feature value, a protected value or an entity.
"""

from __future__ import annotations

from interceptor.metrics import Metrics
from interceptor.proxies import DetectorReport

__all__ = ["record_detector_report"]


def record_detector_report(metrics: Metrics, report: DetectorReport) -> None:
    """Set every proxy gauge from one evaluation and count its status changes."""
    for f in report.findings:
        labels = {
            "transformation": f.transformation,
            "feature": f.feature,
            "attribute": f.attribute,
        }
        metrics.proxy_score.labels(**labels).set(f.score)
        metrics.proxy_flagged.labels(**labels).set(1 if f.flagged else 0)
    for (transformation, feature), samples in report.samples.items():
        metrics.detector_samples.labels(transformation=transformation, feature=feature).set(samples)
    for change in report.changes:
        metrics.proxy_status_changes.labels(status=change.finding.status).inc()
    for transformation, result in report.combinations:
        labels = {"transformation": transformation, "attribute": result.attribute}
        metrics.proxy_combination_ber.labels(**labels).set(result.ber)
        metrics.proxy_combination_auc.labels(**labels).set(result.auc)
    metrics.detector_last_evaluation.set(report.evaluated_at)
