"""Prometheus metrics (DESIGN section 7): base units, bounded labels, never an entity id.

Everything hangs off one :class:`~prometheus_client.CollectorRegistry` passed to
:func:`make_metrics`, so tests build a fresh registry each and the demo and the service expose the
same names. Extra names beyond DESIGN section 7: ``interceptor_ready`` (1 while /readyz is 200),
``interceptor_broker_errors_total{kind}`` (consumer, producer, delivery and commit errors by
librdkafka error name), ``interceptor_state_records_total{topic}`` (state-topic messages
applied), and for the proxy detectors ``interceptor_audit_panel_entities``,
``interceptor_detector_panel_records_total`` (audit-panel records fed to the detectors; its rate
over the rate of ``interceptor_records_total`` is the panel coverage),
``interceptor_detector_last_evaluation_timestamp_seconds``,
``interceptor_proxy_status_changes_total{status}`` and the multi-feature classifier's
``interceptor_proxy_combination_ber`` / ``interceptor_proxy_combination_auc``
``{transformation,attribute}``. For the Compliance dashboard:
``interceptor_transformation_records_total{transformation,decision}`` (at most
:data:`MAX_TRANSFORMATION_LABELS` transformation values, the rest counted as ``other``) and
``interceptor_consent_records_total{consent}`` (``known``/``unknown``: records whose entity had
consent state; the known share is the consent coverage).

Counters with a small, known label set (decisions, dead-letter reasons, reload results, proxy
statuses) start at 0 for every label value, so ``increase()`` and ``rate()`` see the first event
of a kind instead of a series that appears already at 1.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, get_args

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import HistogramMetricFamily, Metric

from interceptor.policy.batch import ActionCode
from interceptor.records import ReasonCode

__all__ = [
    "BATCH_BUCKETS",
    "DECISIONS",
    "DEADLETTER_REASONS",
    "CONSENT_STATES",
    "LATENCY_BUCKETS",
    "MAX_TRANSFORMATION_LABELS",
    "OTHER_TRANSFORMATION",
    "PROXY_STATUSES",
    "RELOAD_RESULTS",
    "BulkHistogram",
    "Metrics",
    "make_metrics",
    "parse_consumer_lag",
]

#: Consumed → acknowledged, for a micro-batching stream processor: 1 ms to 30 s.
LATENCY_BUCKETS: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
BATCH_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


#: ``interceptor_records_total{decision}``: every policy action, plus records sent to dead-letter.
DECISIONS: Final[tuple[str, ...]] = (*(code.label for code in ActionCode), "deadletter")
DEADLETTER_REASONS: Final[tuple[str, ...]] = get_args(ReasonCode)
RELOAD_RESULTS: Final = ("accepted", "rejected")
PROXY_STATUSES: Final = ("clear", "review", "proxy", "insufficient_support")
CONSENT_STATES: Final = ("known", "unknown")
#: Transformation ids come from manifests and records; past this many, new ones count as other.
MAX_TRANSFORMATION_LABELS: Final = 500
OTHER_TRANSFORMATION: Final = "other"


class BulkHistogram:
    """A histogram that takes one value for many events at once.

    Every record of a batch is consumed together and acknowledged together, so they share one
    latency: ``observe(v, count=n)`` records it ``n`` times at the cost of one call.
    """

    def __init__(
        self, name: str, documentation: str, buckets: Sequence[float], registry: CollectorRegistry
    ) -> None:
        self._name = name
        self._doc = documentation
        self._bounds = [float(b) for b in buckets]
        self._counts = [0] * (len(self._bounds) + 1)
        self._sum = 0.0
        self._lock = threading.Lock()
        registry.register(self)

    def observe(self, value: float, count: int = 1) -> None:
        if count <= 0:
            return
        index = bisect.bisect_left(self._bounds, value)
        with self._lock:
            self._counts[index] += count
            self._sum += value * count

    def describe(self) -> Iterable[Metric]:
        return [HistogramMetricFamily(self._name, self._doc)]

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            counts = list(self._counts)
            total = self._sum
        cumulative = 0
        buckets: list[tuple[str, float]] = []
        for bound, n in zip([*self._bounds, float("inf")], counts, strict=True):
            cumulative += n
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
        yield HistogramMetricFamily(self._name, self._doc, buckets=buckets, sum_value=total)


@dataclass(frozen=True)
class Metrics:
    """The interceptor's metric objects; one instance per registry."""

    registry: CollectorRegistry
    records_consumed: Counter
    records: Counter
    rule_matches: Counter
    deadletter: Counter
    policy_reloads: Counter
    deletions: Counter
    broker_errors: Counter
    state_records: Counter
    batch_duration: Histogram
    record_latency: BulkHistogram
    consumer_lag: Gauge
    last_commit: Gauge
    policy_info: Gauge
    transformations: Gauge
    consent_entities: Gauge
    proxy_score: Gauge
    proxy_flagged: Gauge
    detector_samples: Gauge
    audit_panel_entities: Gauge
    detector_panel_records: Counter
    detector_last_evaluation: Gauge
    proxy_status_changes: Counter
    proxy_combination_ber: Gauge
    proxy_combination_auc: Gauge
    transformation_records: Counter
    consent_records: Counter
    ready: Gauge
    _shown: dict[str, set[tuple[str, ...]]] = field(default_factory=dict, repr=False)
    _transformation_labels: set[str] = field(default_factory=set, repr=False)

    def _replace(self, name: str, gauge: Gauge, values: dict[tuple[str, ...], float]) -> None:
        """Set a labelled gauge to exactly ``values``; series not in it disappear.

        Stale series are removed one by one after the new values are set, so a scrape never sees
        the gauge empty in between.
        """
        for labels, value in values.items():
            gauge.labels(*labels).set(value)
        for labels in self._shown.get(name, set()) - values.keys():
            gauge.remove(*labels)
        self._shown[name] = set(values)

    def set_policy(self, policy_hash: str) -> None:
        """Mark ``policy_hash`` as the bundle in force (1) and drop every other hash label."""
        values: dict[tuple[str, ...], float] = {(policy_hash,): 1.0}
        self._replace("policy_info", self.policy_info, values)

    def set_transformations(self, by_verdict: Mapping[str, int]) -> None:
        values: dict[tuple[str, ...], float] = {(v,): float(n) for v, n in by_verdict.items()}
        self._replace("transformations", self.transformations, values)

    def set_lag(self, lag: Mapping[tuple[str, int], int]) -> None:
        """Replace the lag gauges: partitions this instance no longer reads disappear."""
        values: dict[tuple[str, ...], float] = {
            (topic, str(p)): float(v) for (topic, p), v in lag.items()
        }
        self._replace("consumer_lag", self.consumer_lag, values)

    def count_batch(
        self,
        *,
        decisions: Mapping[str, int],
        rule_matches: Mapping[tuple[str, str], int],
        deadletter_reasons: Mapping[str, int],
    ) -> None:
        for decision, n in decisions.items():
            self.records.labels(decision=decision).inc(n)
        for (rule, action), n in rule_matches.items():
            self.rule_matches.labels(rule=rule, action=action).inc(n)
        for reason, n in deadletter_reasons.items():
            self.deadletter.labels(reason=reason).inc(n)

    def count_transformations(self, decisions: Mapping[tuple[str, str], int]) -> None:
        """Count ``{(transformation id, decision): records}`` of a batch.

        The label stays bounded whatever the records name: the first
        :data:`MAX_TRANSFORMATION_LABELS` distinct ids keep their own series, later ones are
        counted under :data:`OTHER_TRANSFORMATION`.
        """
        seen = self._transformation_labels
        for (transformation, decision), n in decisions.items():
            label = transformation
            if label not in seen:
                if len(seen) >= MAX_TRANSFORMATION_LABELS:
                    label = OTHER_TRANSFORMATION
                else:
                    seen.add(label)
            self.transformation_records.labels(transformation=label, decision=decision).inc(n)

    def count_consent(self, *, known: int, unknown: int) -> None:
        """Records of a batch whose entity had consent state on file, and those without."""
        self.consent_records.labels(consent="known").inc(known)
        self.consent_records.labels(consent="unknown").inc(unknown)


def make_metrics(registry: CollectorRegistry) -> Metrics:
    """Create and register every interceptor metric in ``registry``."""
    metrics = _create(registry)
    for decision in DECISIONS:
        metrics.records.labels(decision=decision)
    for reason in DEADLETTER_REASONS:
        metrics.deadletter.labels(reason=reason)
    for result in RELOAD_RESULTS:
        metrics.policy_reloads.labels(result=result)
    for status in PROXY_STATUSES:
        metrics.proxy_status_changes.labels(status=status)
    for state in CONSENT_STATES:
        metrics.consent_records.labels(consent=state)
    return metrics


def _create(registry: CollectorRegistry) -> Metrics:
    r = registry
    return Metrics(
        registry=r,
        records_consumed=Counter(
            "interceptor_records_consumed", "Records consumed from input topics", ["topic"],
            registry=r,
        ),
        records=Counter(
            "interceptor_records", "Input records by decision", ["decision"], registry=r
        ),
        rule_matches=Counter(
            "interceptor_rule_matches", "Rules that took effect, by rule and action",
            ["rule", "action"], registry=r,
        ),
        deadletter=Counter(
            "interceptor_deadletter", "Records sent to the dead-letter topic, by reason code",
            ["reason"], registry=r,
        ),
        policy_reloads=Counter(
            "interceptor_policy_reloads", "Policy hot-reload attempts (accepted|rejected)",
            ["result"], registry=r,
        ),
        deletions=Counter(
            "interceptor_deletions", "Entities newly deleted (tombstone published)", registry=r
        ),
        broker_errors=Counter(
            "interceptor_broker_errors", "Kafka client errors, by kind", ["kind"], registry=r
        ),
        state_records=Counter(
            "interceptor_state_records", "State-topic messages applied", ["topic"], registry=r
        ),
        batch_duration=Histogram(
            "interceptor_batch_duration_seconds",
            "Wall time of one batch: consume, decide, produce, acknowledge, commit",
            buckets=BATCH_BUCKETS, registry=r,
        ),
        record_latency=BulkHistogram(
            "interceptor_record_latency_seconds",
            "Time from a record being consumed to all its outputs being acknowledged",
            LATENCY_BUCKETS, r,
        ),
        consumer_lag=Gauge(
            "interceptor_consumer_lag_records", "Records behind the end of the partition",
            ["topic", "partition"], registry=r,
        ),
        last_commit=Gauge(
            "interceptor_last_commit_timestamp_seconds",
            "Unix time of the last successful offset commit", registry=r,
        ),
        policy_info=Gauge(
            "interceptor_policy_info", "1 for the policy bundle in force", ["hash"], registry=r
        ),
        transformations=Gauge(
            "interceptor_transformations", "Registered transformation versions by static verdict",
            ["verdict"], registry=r,
        ),
        consent_entities=Gauge(
            "interceptor_consent_entities", "Entities with consent state in memory", registry=r
        ),
        proxy_score=Gauge(
            "interceptor_proxy_score",
            "Proxy score: corrected mutual information / H(attribute)",
            ["transformation", "feature", "attribute"], registry=r,
        ),
        proxy_flagged=Gauge(
            "interceptor_proxy_flagged", "1 while the feature's proxy status is review or proxy",
            ["transformation", "feature", "attribute"], registry=r,
        ),
        detector_samples=Gauge(
            "interceptor_detector_samples", "Audit-panel samples in the detector table",
            ["transformation", "feature"], registry=r,
        ),
        audit_panel_entities=Gauge(
            "interceptor_audit_panel_entities", "Entities on the audit panel held in memory",
            registry=r,
        ),
        detector_panel_records=Counter(
            "interceptor_detector_panel_records",
            "Records of audit-panel members that were fed to the proxy detectors",
            registry=r,
        ),
        detector_last_evaluation=Gauge(
            "interceptor_detector_last_evaluation_timestamp_seconds",
            "Unix time of the last proxy-detector evaluation", registry=r,
        ),
        proxy_status_changes=Counter(
            "interceptor_proxy_status_changes",
            "(transformation, feature, attribute) proxy status changes, by the new status",
            ["status"], registry=r,
        ),
        proxy_combination_ber=Gauge(
            "interceptor_proxy_combination_ber",
            "Balanced error rate of the cross-fitted multi-feature classifier for the attribute",
            ["transformation", "attribute"], registry=r,
        ),
        proxy_combination_auc=Gauge(
            "interceptor_proxy_combination_auc",
            "AUC of the cross-fitted multi-feature classifier for the attribute",
            ["transformation", "attribute"], registry=r,
        ),
        transformation_records=Counter(
            "interceptor_transformation_records", "Input records by transformation and decision",
            ["transformation", "decision"], registry=r,
        ),
        consent_records=Counter(
            "interceptor_consent_records",
            "Decided records by whether consent state was on file for them (known|unknown)",
            ["consent"], registry=r,
        ),
        ready=Gauge("interceptor_ready", "1 while the instance is ready to process", registry=r),
    )  # fmt: skip


def parse_consumer_lag(stats_json: str | bytes) -> dict[tuple[str, int], int]:
    """Per-partition lag from a librdkafka statistics document.

    Skips librdkafka's internal partition ``-1`` and unknown lag (``consumer_lag < 0``).
    """
    stats: dict[str, Any] = orjson.loads(stats_json)
    lag: dict[tuple[str, int], int] = {}
    for topic, topic_stats in (stats.get("topics") or {}).items():
        for pid, part in (topic_stats.get("partitions") or {}).items():
            if pid == "-1":
                continue
            value = part.get("consumer_lag", -1)
            if isinstance(value, int) and value >= 0:
                lag[(topic, int(pid))] = value
    return lag
