"""Metric names, lag parsing from librdkafka statistics, bulk histogram, label replacement."""

from __future__ import annotations

import orjson
from prometheus_client import CollectorRegistry, generate_latest

from interceptor.metrics import LATENCY_BUCKETS, make_metrics, parse_consumer_lag

STATS_SAMPLE = {
    "name": "rdkafka#consumer-1",
    "type": "consumer",
    "topics": {
        "features.raw": {
            "topic": "features.raw",
            "partitions": {
                "0": {"partition": 0, "consumer_lag": 1200, "hi_offset": 5000},
                "1": {"partition": 1, "consumer_lag": 0, "hi_offset": 10},
                "2": {"partition": 2, "consumer_lag": -1, "hi_offset": -1001},
                "-1": {"partition": -1, "consumer_lag": -1},
            },
        },
        "other": {"partitions": {"3": {"consumer_lag": 7}}},
    },
}

DESIGN_NAMES = [
    "interceptor_records_consumed_total",
    "interceptor_records_total",
    "interceptor_rule_matches_total",
    "interceptor_deadletter_total",
    "interceptor_batch_duration_seconds",
    "interceptor_record_latency_seconds",
    "interceptor_consumer_lag_records",
    "interceptor_last_commit_timestamp_seconds",
    "interceptor_policy_info",
    "interceptor_policy_reloads_total",
    "interceptor_transformations",
    "interceptor_consent_entities",
    "interceptor_deletions_total",
    "interceptor_proxy_score",
    "interceptor_proxy_flagged",
    "interceptor_detector_samples",
]


def test_lag_skips_internal_partition_and_unknown_lag() -> None:
    lag = parse_consumer_lag(orjson.dumps(STATS_SAMPLE))
    assert lag == {("features.raw", 0): 1200, ("features.raw", 1): 0, ("other", 3): 7}


def test_lag_gauges_follow_the_assignment() -> None:
    registry = CollectorRegistry()
    metrics = make_metrics(registry)
    metrics.set_lag(parse_consumer_lag(orjson.dumps(STATS_SAMPLE)))
    labels = {"topic": "features.raw", "partition": "0"}
    assert registry.get_sample_value("interceptor_consumer_lag_records", labels) == 1200
    metrics.set_lag({("features.raw", 1): 3})
    assert registry.get_sample_value("interceptor_consumer_lag_records", labels) is None
    assert (
        registry.get_sample_value(
            "interceptor_consumer_lag_records", {"topic": "features.raw", "partition": "1"}
        )
        == 3
    )


def test_every_design_name_is_exposed() -> None:
    registry = CollectorRegistry()
    metrics = make_metrics(registry)
    # labelled metrics appear once they have a series
    metrics.records_consumed.labels(topic="t").inc()
    metrics.records.labels(decision="allow").inc()
    metrics.rule_matches.labels(rule="R", action="block").inc()
    metrics.deadletter.labels(reason="not_json").inc()
    metrics.policy_reloads.labels(result="accepted").inc()
    metrics.set_lag({("t", 0): 1})
    metrics.set_policy("abc")
    metrics.set_transformations({"allow": 2})
    metrics.proxy_score.labels(transformation="x", feature="f", attribute="race").set(0.1)
    metrics.proxy_flagged.labels(transformation="x", feature="f", attribute="race").set(0)
    metrics.detector_samples.labels(transformation="x", feature="f").set(10)
    text = generate_latest(registry).decode()
    for name in DESIGN_NAMES:
        assert f"\n{name}" in text or text.startswith(name), name
        assert f"# TYPE {name.removesuffix('_total')}" in text, name


def test_policy_info_has_one_hash() -> None:
    registry = CollectorRegistry()
    metrics = make_metrics(registry)
    metrics.set_policy("old")
    metrics.set_policy("new")
    assert registry.get_sample_value("interceptor_policy_info", {"hash": "old"}) is None
    assert registry.get_sample_value("interceptor_policy_info", {"hash": "new"}) == 1


def test_transformation_verdicts_are_replaced() -> None:
    registry = CollectorRegistry()
    metrics = make_metrics(registry)
    metrics.set_transformations({"allow": 3, "block": 1})
    metrics.set_transformations({"allow": 4})
    assert registry.get_sample_value("interceptor_transformations", {"verdict": "allow"}) == 4
    assert registry.get_sample_value("interceptor_transformations", {"verdict": "block"}) is None


def test_bulk_histogram_counts_every_record() -> None:
    registry = CollectorRegistry()
    metrics = make_metrics(registry)
    metrics.record_latency.observe(0.004, count=1000)
    metrics.record_latency.observe(2.0)
    name = "interceptor_record_latency_seconds"
    assert registry.get_sample_value(f"{name}_count") == 1001
    assert registry.get_sample_value(f"{name}_sum") == 0.004 * 1000 + 2.0
    assert registry.get_sample_value(f"{name}_bucket", {"le": "0.0025"}) == 0
    assert registry.get_sample_value(f"{name}_bucket", {"le": "0.005"}) == 1000
    assert registry.get_sample_value(f"{name}_bucket", {"le": "2.5"}) == 1001
    assert registry.get_sample_value(f"{name}_bucket", {"le": "+Inf"}) == 1001
    assert LATENCY_BUCKETS[0] == 0.001 and LATENCY_BUCKETS[-1] == 30.0


def test_batch_counts() -> None:
    registry = CollectorRegistry()
    metrics = make_metrics(registry)
    metrics.count_batch(
        decisions={"allow": 5, "block": 2},
        rule_matches={("CCPA-07", "block"): 2},
        deadletter_reasons={"not_json": 1},
    )
    assert registry.get_sample_value("interceptor_records_total", {"decision": "block"}) == 2
    assert (
        registry.get_sample_value(
            "interceptor_rule_matches_total", {"rule": "CCPA-07", "action": "block"}
        )
        == 2
    )
    assert registry.get_sample_value("interceptor_deadletter_total", {"reason": "not_json"}) == 1
