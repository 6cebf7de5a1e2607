"""The metric names the dashboards and alerts rely on, and the label values that start at 0."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from interceptor.metrics import (
    DEADLETTER_REASONS,
    DECISIONS,
    MAX_TRANSFORMATION_LABELS,
    OTHER_TRANSFORMATION,
    PROXY_STATUSES,
    make_metrics,
)
from tests.deploy.support import alert_rules, metrics_in, panel_queries

#: Names the detector integration sets; dashboards and alerts use exactly these.
DETECTOR_NAMES = {
    "interceptor_audit_panel_entities": "gauge",
    "interceptor_detector_panel_records_total": "counter",
    "interceptor_detector_last_evaluation_timestamp_seconds": "gauge",
    "interceptor_proxy_status_changes_total": "counter",
    "interceptor_proxy_combination_ber": "gauge",
    "interceptor_proxy_combination_auc": "gauge",
    "interceptor_proxy_score": "gauge",
    "interceptor_proxy_flagged": "gauge",
    "interceptor_detector_samples": "gauge",
}


def _families(registry: CollectorRegistry) -> dict[str, str]:
    """Exposed name → type, as ``# TYPE`` lines give them."""
    text = generate_latest(registry).decode()
    return {
        line.split()[2]: line.split()[3] for line in text.splitlines() if line.startswith("# TYPE")
    }


def _exposed_names(families: dict[str, str]) -> set[str]:
    names = set(families)
    for name, kind in families.items():
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


def _registry_with_metrics() -> CollectorRegistry:
    registry = CollectorRegistry()
    make_metrics(registry)
    return registry


def test_the_detector_metrics_exist_with_their_types() -> None:
    registry = CollectorRegistry()
    metrics = make_metrics(registry)
    families = _families(registry)
    for name, kind in DETECTOR_NAMES.items():
        assert families.get(name) == kind, name
    labels = {"transformation": "t", "attribute": "race"}
    metrics.proxy_combination_ber.labels(**labels).set(0.31)
    metrics.proxy_combination_auc.labels(**labels).set(0.74)
    metrics.detector_panel_records.inc(5)
    assert registry.get_sample_value("interceptor_proxy_combination_auc", labels) == 0.74
    assert registry.get_sample_value("interceptor_detector_panel_records_total") == 5


def test_every_name_a_dashboard_or_alert_reads_is_exposed() -> None:
    exposed = _exposed_names(_families(_registry_with_metrics()))
    exposed.add("up")  # Prometheus' own
    used = {name for q in panel_queries() for name in metrics_in(q.expr)}
    used |= {name for rule in alert_rules() for name in metrics_in(rule["expr"])}
    assert used - exposed == set()


def test_known_label_values_start_at_zero_so_increase_sees_the_first_event() -> None:
    registry = _registry_with_metrics()
    for decision in DECISIONS:
        assert registry.get_sample_value("interceptor_records_total", {"decision": decision}) == 0
    for reason in DEADLETTER_REASONS:
        assert registry.get_sample_value("interceptor_deadletter_total", {"reason": reason}) == 0
    for result in ("accepted", "rejected"):
        sample = registry.get_sample_value("interceptor_policy_reloads_total", {"result": result})
        assert sample == 0
    for status in PROXY_STATUSES:
        sample = registry.get_sample_value(
            "interceptor_proxy_status_changes_total", {"status": status}
        )
        assert sample == 0
    assert set(DECISIONS) == {"allow", "flag", "transform", "redact", "block", "deadletter"}
    assert "not_json" in DEADLETTER_REASONS


def test_transformation_labels_stay_bounded() -> None:
    registry = CollectorRegistry()
    metrics = make_metrics(registry)
    metrics.count_transformations({("geo_features", "block"): 3, ("geo_features", "allow"): 2})
    metrics.count_transformations({(f"t{i}", "block"): 1 for i in range(MAX_TRANSFORMATION_LABELS)})
    metrics.count_transformations({("geo_features", "block"): 1})

    def count(transformation: str, decision: str) -> float | None:
        return registry.get_sample_value(
            "interceptor_transformation_records_total",
            {"transformation": transformation, "decision": decision},
        )

    assert count("geo_features", "block") == 4
    assert count("geo_features", "allow") == 2
    assert count(OTHER_TRANSFORMATION, "block") == 1  # the 501st distinct id
    labels = {
        s.labels["transformation"]
        for family in registry.collect()
        if family.name == "interceptor_transformation_records"
        for s in family.samples
    }
    assert len(labels) == MAX_TRANSFORMATION_LABELS + 1


def test_consent_coverage_counts() -> None:
    registry = CollectorRegistry()
    metrics = make_metrics(registry)
    metrics.count_consent(known=9, unknown=1)
    assert registry.get_sample_value("interceptor_consent_records_total", {"consent": "known"}) == 9
    sample = registry.get_sample_value("interceptor_consent_records_total", {"consent": "unknown"})
    assert sample == 1
