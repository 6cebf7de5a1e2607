"""The demo's final figures: read from the metrics registry and the output topics, shown as tables.

The summary is built from what was counted (Prometheus samples) and what was read back from Kafka
(the census), and it says whether the two agree with the number of records published.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry
from rich.console import Console
from rich.table import Table

from interceptor.proxies import DetectorReport
from interceptor.stream.reader import OutputCensus

__all__ = ["DemoSummary", "proxy_rows", "render_summary"]


def _samples(registry: CollectorRegistry, name: str, *labels: str) -> Counter[tuple[str, ...]]:
    counts: Counter[tuple[str, ...]] = Counter()
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == name:
                counts[tuple(sample.labels.get(label, "") for label in labels)] += int(sample.value)
    return counts


@dataclass
class DemoSummary:
    """The figures DESIGN section 8 asks of ``--summary-json``, plus the read-back check."""

    records_in: int
    clean: int
    quarantine: int
    deadletter: int
    decisions: dict[str, int]
    rules: dict[str, int]
    rule_actions: dict[str, str]
    deadletter_reasons: dict[str, int]
    throughput_rps: float
    policy_hash: str
    accounted: int
    duplicates: int
    proxies: list[dict[str, Any]] = field(default_factory=list)
    combinations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        """Every published record was routed once and found in exactly one output topic."""
        routed = self.clean + self.quarantine + self.deadletter
        return routed == self.records_in == self.accounted

    @classmethod
    def collect(
        cls,
        *,
        registry: CollectorRegistry,
        records_in: int,
        outputs: OutputCensus,
        input_topics: Sequence[str],
        seconds: float,
        policy_hash: str,
    ) -> DemoSummary:
        by_decision = _samples(registry, "interceptor_records_total", "decision")
        decisions = {decision: n for (decision,), n in by_decision.items()}
        matches = _samples(registry, "interceptor_rule_matches_total", "rule", "action")
        rules: Counter[str] = Counter()
        actions: dict[str, str] = {}
        for (rule, action), count in matches.items():
            rules[rule] += count
            actions[rule] = action
        reasons = _samples(registry, "interceptor_deadletter_total", "reason")
        clean_decisions = ("allow", "flag", "transform", "redact")
        return cls(
            records_in=records_in,
            clean=sum(decisions.get(d, 0) for d in clean_decisions),
            quarantine=decisions.get("block", 0),
            deadletter=decisions.get("deadletter", 0),
            decisions=dict(sorted(decisions.items())),
            rules=dict(sorted(rules.items())),
            rule_actions=actions,
            deadletter_reasons={r: n for (r,), n in sorted(reasons.items())},
            throughput_rps=records_in / seconds if seconds > 0 else 0.0,
            policy_hash=policy_hash,
            accounted=outputs.accounted(input_topics),
            duplicates=outputs.duplicates(),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "records_in": self.records_in,
            "clean": self.clean,
            "quarantine": self.quarantine,
            "deadletter": self.deadletter,
            "decisions": self.decisions,
            "rules": self.rules,
            "deadletter_reasons": self.deadletter_reasons,
            "proxies": self.proxies,
            "combinations": self.combinations,
            "throughput_rps": round(self.throughput_rps, 1),
            "policy_hash": self.policy_hash,
            "accounted_for": self.accounted,
            "duplicates": self.duplicates,
        }


def proxy_rows(report: DetectorReport) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The detectors' last word, as DESIGN section 8's ``proxies`` list plus the combinations."""
    proxies = [
        {
            "transformation": f.transformation,
            "feature": f.feature,
            "attribute": f.attribute,
            "score": round(f.score, 6),
            "ci_low": round(f.ci_low, 6),
            "ci_high": round(f.ci_high, 6),
            "p_value": f.p_value,
            "n": f.n,
            "status": f.status,
            "flagged": f.flagged,
        }
        for f in sorted(
            report.findings, key=lambda f: (not f.flagged, -f.score, f.transformation, f.feature)
        )
    ]
    combinations = [
        {
            "transformation": transformation,
            "attribute": r.attribute,
            "n": r.n,
            "ber": round(r.ber, 4),
            "auc": round(r.auc, 4),
            "predictive_information": round(r.predictive_information, 4),
            "flagged": r.flagged,
        }
        for transformation, r in report.combinations
    ]
    return proxies, combinations


def _render_proxies(console: Console, summary: DemoSummary) -> None:
    shown = [p for p in summary.proxies if p["flagged"]]
    table = Table(title="Proxy detectors: flagged features")
    table.add_column("transformation.feature", overflow="fold")
    table.add_column("attribute")
    table.add_column("status")
    for column in ("score", "95% CI", "p (Holm)", "n"):
        table.add_column(column, justify="right")
    for p in shown:
        table.add_row(
            f"{p['transformation']}.{p['feature']}",
            p["attribute"],
            p["status"],
            f"{p['score']:.3f}",
            f"{p['ci_low']:.3f}–{p['ci_high']:.3f}",
            f"{p['p_value']:.0e}",
            f"{p['n']:,}",
        )
    judged = {(p["transformation"], p["feature"]) for p in summary.proxies}
    flagged = {(p["transformation"], p["feature"]) for p in shown}
    table.caption = (
        f"{len(flagged)} of {len(judged)} features flagged; score = share of the attribute's "
        "entropy the feature reveals; n = panel entities"
    )
    console.print(table)
    if summary.combinations:
        hits = [c for c in summary.combinations if c["flagged"]]
        combos = Table(title="Proxy detectors: feature combinations that predict an attribute")
        combos.add_column("transformation")
        combos.add_column("attribute")
        for column in ("balanced error", "AUC", "n"):
            combos.add_column(column, justify="right")
        for c in hits:
            combos.add_row(
                c["transformation"],
                c["attribute"],
                f"{c['ber']:.3f}",
                f"{c['auc']:.3f}",
                f"{c['n']:,}",
            )
        combos.caption = (
            f"{len(hits)} of {len(summary.combinations)} (transformation, attribute) pairs "
            "flagged by the cross-fitted classifier"
        )
        console.print(combos)


def render_summary(console: Console, summary: DemoSummary) -> None:
    routes = Table(title="Where the records went")
    routes.add_column("decision")
    routes.add_column("records", justify="right")
    routes.add_column("share", justify="right")
    routes.add_column("topic")
    topic_of = {"block": "quarantine", "deadletter": "dead-letter"}
    for decision, count in sorted(summary.decisions.items(), key=lambda kv: -kv[1]):
        share = count / summary.records_in if summary.records_in else 0.0
        routes.add_row(decision, f"{count:,}", f"{share:.1%}", topic_of.get(decision, "clean"))
    console.print(routes)

    rules = Table(title="Rule matches")
    rules.add_column("rule")
    rules.add_column("action")
    rules.add_column("matches", justify="right")
    for rule, count in sorted(summary.rules.items(), key=lambda kv: (-kv[1], kv[0])):
        rules.add_row(rule, summary.rule_actions.get(rule, ""), f"{count:,}")
    console.print(rules)

    if summary.deadletter_reasons:
        reasons = Table(title="Dead-letter reasons")
        reasons.add_column("reason")
        reasons.add_column("records", justify="right")
        for reason, count in sorted(summary.deadletter_reasons.items(), key=lambda kv: -kv[1]):
            reasons.add_row(reason, f"{count:,}")
        console.print(reasons)

    if summary.proxies:
        _render_proxies(console, summary)

    verdict = "[green]consistent[/green]" if summary.consistent else "[red]INCONSISTENT[/red]"
    console.print(
        f"{summary.records_in:,} records in: {summary.clean:,} clean, "
        f"{summary.quarantine:,} quarantined, {summary.deadletter:,} dead-lettered; "
        f"{summary.accounted:,} input offsets read back from the outputs "
        f"({summary.duplicates} duplicates): {verdict}"
    )
    console.print(
        f"throughput {summary.throughput_rps:,.0f} records/s, policy bundle {summary.policy_hash}"
    )
