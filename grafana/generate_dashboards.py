"""The Grafana dashboards of the interceptor, as code (grafana-foundation-sdk, Grafana 11 build).

    python grafana/generate_dashboards.py           # (re)write grafana/dashboards/*.json
    python grafana/generate_dashboards.py --check   # exit 1 if a committed file is out of date

Three dashboards: *Overview* (traffic, decisions, lag, latency, fleet and policy), *Compliance*
(rules, transformations, consent and deletion) and *Proxy detectors* (scores, flags, samples, the
audit panel). Every query selects ``job=~"$job",instance=~"$instance"`` so one Grafana serves any
number of deployments; the template variables come from the interceptor's own series.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from grafana_foundation_sdk.builders import bargauge, stat, table, timeseries
from grafana_foundation_sdk.builders.common import ReduceDataOptions, VizLegendOptions
from grafana_foundation_sdk.builders.common import StackingConfig as StackingBuilder
from grafana_foundation_sdk.builders.dashboard import (
    Dashboard,
    DashboardLink,
    DatasourceVariable,
    QueryVariable,
    Row,
    ThresholdsConfig,
)
from grafana_foundation_sdk.builders.prometheus import Dataquery as PromQuery
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.variants import Dataquery
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models.common import (
    BarGaugeDisplayMode,
    BigValueColorMode,
    BigValueGraphMode,
    LegendDisplayMode,
    LegendPlacement,
    StackingMode,
    TableCellBackgroundDisplayMode,
    TableColoredBackgroundCellOptions,
    VizOrientation,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

__all__ = ["DASHBOARDS", "render_all"]

OUT_DIR: Final = Path(__file__).resolve().parent / "dashboards"
PROM: Final = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
#: Every interceptor series is selected by deployment and instance.
SEL: Final = 'job=~"$job",instance=~"$instance"'
RATE: Final = "$__rate_interval"
TAGS: Final = ["interceptor"]

#: Proxy-score thresholds of the detectors (DESIGN section 5): review from 0.01, proxy from 0.05.
SCORE_REVIEW: Final = 0.01
SCORE_PROXY: Final = 0.05

PanelBuilder = Builder[dm.Panel]


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False


def _targets(queries: Sequence[Query]) -> list[Builder[Dataquery]]:
    built: list[Builder[Dataquery]] = []
    for i, q in enumerate(queries):
        target = PromQuery().expr(q.expr).ref_id(chr(ord("A") + i)).datasource(PROM)
        if q.legend:
            target = target.legend_format(q.legend)
        target = target.instant() if q.instant else target.range()
        if q.table:
            target = target.format(PromQueryFormat.TABLE)
        built.append(target)
    return built


def _thresholds(*steps: tuple[float | None, str]) -> ThresholdsConfig:
    return (
        ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=v, color=c) for v, c in steps])
    )


GREEN_ONLY: Final = ((None, "green"),)


def ts(
    title: str,
    description: str,
    queries: Sequence[Query],
    *,
    unit: str = "short",
    width: int = 12,
    height: int = 8,
    stacked: bool = False,
    min_zero: bool = True,
) -> PanelBuilder:
    """A time series panel with its legend as a table (last value and maximum)."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(PROM)
        .targets(_targets(queries))
        .unit(unit)
        .span(width)
        .height(height)
        .fill_opacity(15 if stacked else 5)
        .legend(
            VizLegendOptions()
            .display_mode(LegendDisplayMode.TABLE)
            .placement(LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["lastNotNull", "max"])
        )
    )
    if min_zero:
        panel = panel.min(0)
    if stacked:
        panel = panel.stacking(StackingBuilder().mode(StackingMode.NORMAL))
    return panel


def single(
    title: str,
    description: str,
    query: Query,
    *,
    unit: str = "short",
    width: int = 4,
    height: int = 4,
    steps: Sequence[tuple[float | None, str]] = GREEN_ONLY,
    decimals: int | None = None,
) -> PanelBuilder:
    """A stat panel showing the latest value, coloured by ``steps``."""
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(PROM)
        .targets(_targets([query]))
        .unit(unit)
        .span(width)
        .height(height)
        .graph_mode(BigValueGraphMode.AREA)
        .color_mode(BigValueColorMode.VALUE)
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .thresholds(_thresholds(*steps))
    )
    if decimals is not None:
        panel = panel.decimals(decimals)
    return panel


def bars(
    title: str,
    description: str,
    query: Query,
    *,
    unit: str = "short",
    width: int = 12,
    height: int = 8,
    steps: Sequence[tuple[float | None, str]] = GREEN_ONLY,
) -> PanelBuilder:
    """Horizontal bars, one per series (latest value)."""
    return (
        bargauge.Panel()
        .title(title)
        .description(description)
        .datasource(PROM)
        .targets(_targets([query]))
        .unit(unit)
        .span(width)
        .height(height)
        .min(0)
        .orientation(VizOrientation.HORIZONTAL)
        .display_mode(BarGaugeDisplayMode.GRADIENT)
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .thresholds(_thresholds(*steps))
    )


def tabular(
    title: str,
    description: str,
    query: Query,
    *,
    width: int = 12,
    height: int = 8,
    hide: Sequence[str] = ("Time",),
    value: str = "Value",
    transformations: Sequence[dm.DataTransformerConfig] = (),
    unit: str = "short",
    steps: Sequence[tuple[float | None, str]] | None = None,
) -> PanelBuilder:
    """A table of an instant query, its value column named ``value``; ``steps`` colours the
    cells' backgrounds."""
    options: dict[str, object] = {"excludeByName": dict.fromkeys(hide, True)}
    if value != "Value":
        options["renameByName"] = {"Value": value}
    organize = dm.DataTransformerConfig(id_val="organize", options=options)
    panel = (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(PROM)
        .targets(_targets([query]))
        .span(width)
        .height(height)
        .unit(unit)
        .transformations([organize, *transformations])
    )
    if steps is not None:
        panel = panel.thresholds(_thresholds(*steps)).cell_options(
            TableColoredBackgroundCellOptions(mode=TableCellBackgroundDisplayMode.BASIC)
        )
    return panel


def _variable(name: str, label: str, query: str, description: str) -> QueryVariable:
    return (
        QueryVariable(name)
        .label(label)
        .description(description)
        .datasource(PROM)
        .query(query)
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(dm.VariableOption(selected=True, text="All", value="$__all"))
    )


def _base(uid: str, title: str, description: str) -> Dashboard:
    return (
        Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .refresh("30s")
        .time("now-3h", "now")
        .timezone("browser")
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .link(
            DashboardLink("Interceptor dashboards")
            .type(dm.DashboardLinkType.DASHBOARDS)
            .tags(TAGS)
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
        .with_variable(
            DatasourceVariable("datasource")
            .label("Data source")
            .type("prometheus")
            .description("The Prometheus that scrapes the interceptors")
        )
        .with_variable(
            _variable(
                "job",
                "Job",
                "label_values(interceptor_ready, job)",
                "Prometheus job of the interceptor deployment",
            )
        )
        .with_variable(
            _variable(
                "instance",
                "Instance",
                'label_values(interceptor_ready{job=~"$job"}, instance)',
                "One interceptor process (pod); All sums over the deployment",
            )
        )
    )


def _rate(metric: str, extra: str = "", by: str = "") -> str:
    grouping = f"sum by ({by}) " if by else "sum"
    selector = f"{SEL},{extra}" if extra else SEL
    return f"{grouping}(rate({metric}{{{selector}}}[{RATE}]))"


def _quantile(metric: str, q: float) -> str:
    return f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket{{{SEL}}}[{RATE}])))"


def _decision_ratio(decision: str) -> str:
    return (
        f"{_rate('interceptor_records_total', f'decision={json.dumps(decision)}')} / "
        f"{_rate('interceptor_records_total')}"
    )


def overview() -> Dashboard:
    """Is it up, is it keeping up, what is it deciding, which policy is in force."""
    d = _base(
        "interceptor-overview",
        "Feature interceptor: overview",
        "Traffic, decisions, lag, latency, instances and the policy bundle in force.",
    ).with_variable(
        _variable(
            "topic",
            "Input topic",
            'label_values(interceptor_records_consumed_total{job=~"$job"}, topic)',
            "Input topic, for the consumption and lag panels",
        )
    )
    d = d.with_row(Row("Fleet and policy"))
    for panel in (
        single(
            "Instances up",
            "Interceptor processes Prometheus can scrape right now (the `up` series). Fewer than "
            "the deployment's replicas means an instance is down or unreachable; see the "
            "InterceptorDown alert.",
            Query(f"sum(up{{{SEL}}})"),
            steps=((None, "red"), (1, "green")),
        ),
        single(
            "Instances ready",
            "Instances whose /readyz answers 200: state topics loaded, consumer group joined, "
            "broker reachable. An instance that is up but not ready does not process records.",
            Query(f"sum(interceptor_ready{{{SEL}}})"),
            steps=((None, "red"), (1, "green")),
        ),
        single(
            "Policy bundles in force",
            "How many different policy bundles the instances run. 1 is normal; 2 or more "
            "means instances disagree (a reload reached only some of them, or a rollout is in "
            "progress). The table on the right names the bundle per instance.",
            Query(f"count(count by (hash) (interceptor_policy_info{{{SEL}}} == 1))"),
            steps=((None, "green"), (2, "orange")),
        ),
        single(
            "Rejected policy reloads",
            "Policy changes rejected in the selected time range (lint or compile errors). The "
            "last good bundle stays in force; fix the YAML. See the "
            "InterceptorPolicyReloadRejected alert.",
            Query(
                "sum(increase(interceptor_policy_reloads_total"
                f'{{{SEL},result="rejected"}}[$__range]))'
            ),
            steps=((None, "green"), (1, "red")),
            decimals=0,
        ),
        tabular(
            "Policy bundle per instance",
            "The hash of the policy bundle each instance decides with (the same hash is in "
            "every output's interceptor-policy header and every audit event).",
            Query(
                f"max by (instance, hash) (interceptor_policy_info{{{SEL}}} == 1)",
                instant=True,
                table=True,
            ),
            width=8,
            height=4,
            hide=("Time", "Value"),
        ),
    ):
        d = d.with_panel(panel)

    d = d.with_row(Row("Traffic and decisions"))
    for panel in (
        ts(
            "Records by decision",
            "Input records per second by decision: allow (forwarded unchanged), flag "
            "(forwarded, marked), transform / redact (forwarded with features rewritten or "
            "removed), block (quarantined) and deadletter (could not be decoded).",
            [Query(_rate("interceptor_records_total", by="decision"), "{{decision}}")],
            unit="ops",
            stacked=True,
        ),
        ts(
            "Block and flag ratios",
            "Share of input records that were blocked (quarantined) or flagged. A sudden rise "
            "in the block ratio usually means a policy change, a new consent wave or a feature "
            "pipeline that started sending something it should not; see the "
            "InterceptorBlockRatioSpike alert.",
            [
                Query(_decision_ratio("block"), "block"),
                Query(_decision_ratio("flag"), "flag"),
            ],
            unit="percentunit",
        ),
        ts(
            "Records consumed by topic",
            "Records read per second from each input topic, before any decision. A topic "
            "that drops to zero while its producers still write points at the consumers: "
            "check the lag panels below.",
            [
                Query(
                    _rate("interceptor_records_consumed_total", 'topic=~"$topic"', by="topic"),
                    "{{topic}}",
                )
            ],
            unit="ops",
        ),
        ts(
            "Dead-letter records by reason",
            "Records per second sent to the dead-letter topic, by reason code (not_json, "
            "missing_field, ...; the README lists them). Their bytes are kept unchanged there. "
            "Any traffic here means a producer sends malformed records; see the "
            "InterceptorDeadLetters alert.",
            [Query(_rate("interceptor_deadletter_total", by="reason"), "{{reason}}")],
            unit="ops",
        ),
    ):
        d = d.with_panel(panel)

    d = d.with_row(Row("Lag and latency"))
    for panel in (
        ts(
            "Consumer lag by topic",
            "Records waiting in the input topics that the interceptor has not processed yet "
            "(from librdkafka statistics, summed over partitions). Flat near zero is healthy; "
            "a steady climb means the interceptors cannot keep up or are stuck. See the "
            "InterceptorLagHigh and InterceptorStalled alerts.",
            [
                Query(
                    f'sum by (topic) (interceptor_consumer_lag_records{{{SEL},topic=~"$topic"}})',
                    "{{topic}}",
                )
            ],
        ),
        bars(
            "Consumer lag by partition",
            "The same lag per partition and instance: one partition far behind the others "
            "points at a hot key or a stuck instance rather than general overload.",
            Query(
                "max by (topic, partition, instance) "
                f'(interceptor_consumer_lag_records{{{SEL},topic=~"$topic"}})',
                "{{topic}}[{{partition}}] {{instance}}",
            ),
        ),
        ts(
            "Record latency (consumed → acknowledged)",
            "Percentiles of the time from a record being consumed to all its outputs being "
            "acknowledged by the broker. Records of one batch share it, so it includes batching "
            "(processing.batch_timeout_ms).",
            [
                Query(_quantile("interceptor_record_latency_seconds", 0.5), "p50"),
                Query(_quantile("interceptor_record_latency_seconds", 0.95), "p95"),
                Query(_quantile("interceptor_record_latency_seconds", 0.99), "p99"),
            ],
            unit="s",
        ),
        ts(
            "Batch duration",
            "Percentiles of the wall time of one batch: decide, produce, wait for "
            "acknowledgements, commit. Growing batch times with flat traffic point at a slow "
            "broker.",
            [
                Query(_quantile("interceptor_batch_duration_seconds", 0.5), "p50"),
                Query(_quantile("interceptor_batch_duration_seconds", 0.99), "p99"),
            ],
            unit="s",
        ),
        single(
            "Seconds since last commit",
            "Age of the most recent successful offset commit of any selected instance. It grows "
            "while the input is idle (nothing to commit), which is fine; growing while there is "
            "lag is not (InterceptorNoCommit alert).",
            Query(f"time() - max(interceptor_last_commit_timestamp_seconds{{{SEL}}})"),
            unit="s",
            width=6,
            height=6,
            steps=((None, "green"), (300, "orange"), (600, "red")),
        ),
        ts(
            "Kafka client errors by kind",
            "Consumer, producer, delivery and commit errors per second, by librdkafka error "
            "name. Empty is healthy. transport / all_brokers_down mean the broker is "
            "unreachable (the instance turns not ready and resumes by itself).",
            [Query(_rate("interceptor_broker_errors_total", by="kind"), "{{kind}}")],
            unit="ops",
            width=18,
            height=6,
        ),
    ):
        d = d.with_panel(panel)
    return d


def compliance() -> Dashboard:
    """What the policy does to the traffic: rules, transformations, consent and deletion."""
    d = _base(
        "interceptor-compliance",
        "Feature interceptor: compliance",
        "Rule matches, blocked transformations, registration verdicts, consent and deletions.",
    ).with_variable(
        _variable(
            "rule",
            "Rule",
            'label_values(interceptor_rule_matches_total{job=~"$job"}, rule)',
            "Policy rule id (policies/*.yaml)",
        )
    )
    d = d.with_row(Row("Rules"))
    for panel in (
        ts(
            "Rule matches by rule",
            "How often each policy rule took effect, per second. A rule counts once per record "
            "it decided. Rule ids are those of policies/*.yaml (policies/README.md explains "
            "each); the built-in ones are unregistered-transformation, transformation-mismatch, "
            "entity-deleted and evaluation-fault.",
            [
                Query(
                    _rate("interceptor_rule_matches_total", 'rule=~"$rule"', by="rule"),
                    "{{rule}}",
                )
            ],
            unit="ops",
            width=16,
        ),
        tabular(
            "Top rules in range",
            "The ten rules that matched most in the selected time range, with their action.",
            Query(
                "topk(10, sum by (rule, action) (increase(interceptor_rule_matches_total"
                f'{{{SEL},rule=~"$rule"}}[$__range])))',
                instant=True,
                table=True,
            ),
            width=8,
            value="matches",
        ),
        ts(
            "Rule matches by action",
            "The same matches grouped by the action the rule asked for (block, redact, "
            "transform, flag, allow for carve-outs). A record's decision is the most "
            "restrictive action of the rules that matched it.",
            [
                Query(
                    _rate("interceptor_rule_matches_total", 'rule=~"$rule"', by="action"),
                    "{{action}}",
                )
            ],
            unit="ops",
            width=24,
            stacked=True,
        ),
    ):
        d = d.with_panel(panel)

    d = d.with_row(Row("Transformations"))
    for panel in (
        bars(
            "Top blocked transformations",
            "Feature transformations whose records were blocked most in the selected time "
            "range. One transformation on top usually means its manifest or its purpose "
            "conflicts with a rule: check it with `interceptor transformations check`. "
            "Transformations that are not registered appear as 'unregistered'.",
            Query(
                "topk(10, sum by (transformation) (increase("
                f'interceptor_transformation_records_total{{{SEL},decision="block"}}[$__range])))',
                "{{transformation}}",
            ),
            steps=((None, "orange"),),
        ),
        bars(
            "Registration verdicts",
            "Registered transformation versions by their static verdict: what the policy says "
            "about the transformation itself, before any record (block: every record of it is "
            "blocked).",
            Query(
                f"max by (verdict) (interceptor_transformations{{{SEL}}})",
                "{{verdict}}",
            ),
        ),
    ):
        d = d.with_panel(panel)

    d = d.with_row(Row("Consent and deletion"))
    for panel in (
        single(
            "Entities with consent state",
            "Entities (consumers) whose consent state the interceptor holds in memory, read "
            "from the compacted consent topic.",
            Query(f"max(interceptor_consent_entities{{{SEL}}})"),
            width=6,
            height=6,
        ),
        ts(
            "Consent coverage",
            "Share of records whose entity has consent state on file. Records of entities "
            "without one are decided with the defaults (no opt-out known), so a drop here "
            "means the consent topic is behind or a new population arrived.",
            [
                Query(
                    _rate("interceptor_consent_records_total", 'consent="known"')
                    + " / "
                    + _rate("interceptor_consent_records_total"),
                    "coverage",
                )
            ],
            unit="percentunit",
            width=6,
            height=6,
        ),
        ts(
            "Deletions applied",
            "Entities newly deleted (a tombstone was published to the feature store), per "
            "interval. Every instance applies every deletion, so this is the maximum over "
            "instances, not the sum.",
            [
                Query(
                    f"max(increase(interceptor_deletions_total{{{SEL}}}[{RATE}]))",
                    "deletions",
                )
            ],
            width=6,
            height=6,
        ),
        ts(
            "State-topic messages applied",
            "Messages applied from the compacted state topics (consent, transformation "
            "registry) per second: consent updates arriving and manifests being registered.",
            [Query(_rate("interceptor_state_records_total", by="topic"), "{{topic}}")],
            unit="ops",
            width=6,
            height=6,
        ),
    ):
        d = d.with_panel(panel)
    return d


def proxy_detectors() -> Dashboard:
    """Which features reveal protected attributes, and whether the detectors can tell."""
    tsel = f'{SEL},transformation=~"$transformation"'
    asel = f'{tsel},attribute=~"$attribute"'
    key = "transformation, feature, attribute"
    d = (
        _base(
            "interceptor-proxy-detectors",
            "Feature interceptor: proxy detectors",
            "Proxy scores feature by attribute, flagged features, detector samples and the "
            "audit panel that feeds them.",
        )
        .with_variable(
            _variable(
                "transformation",
                "Transformation",
                'label_values(interceptor_detector_samples{job=~"$job"}, transformation)',
                "Feature transformation (manifest id)",
            )
        )
        .with_variable(
            _variable(
                "attribute",
                "Protected attribute",
                'label_values(interceptor_proxy_score{job=~"$job"}, attribute)',
                "Protected attribute known for the audit panel (race, sex, age band, ...)",
            )
        )
    )
    d = d.with_row(Row("Proxy scores"))
    matrix = dm.DataTransformerConfig(
        id_val="groupingToMatrix",
        options={"columnField": "attribute", "rowField": "feature", "valueField": "Value"},
    )
    for panel in (
        single(
            "Features flagged",
            "(transformation, feature, attribute) combinations whose proxy status is review "
            "or proxy right now. Each is listed in the table below; new ones raise the "
            "InterceptorProxyFeatureFlagged alert.",
            Query(f"sum(max by ({key}) (interceptor_proxy_flagged{{{asel}}}))"),
            width=12,
            height=4,
            steps=((None, "green"), (1, "orange")),
            decimals=0,
        ),
        single(
            "Seconds since last detector evaluation",
            "Age of the detectors' most recent evaluation. It should stay well below the "
            "evaluation period; a growing value means the detectors stopped judging.",
            Query(f"time() - max(interceptor_detector_last_evaluation_timestamp_seconds{{{SEL}}})"),
            unit="s",
            width=12,
            height=4,
            steps=((None, "green"), (900, "orange"), (3600, "red")),
        ),
        tabular(
            "Proxy score: feature × attribute",
            "Share of a protected attribute's entropy that the feature reveals (corrected "
            "mutual information / H(attribute)), one row per transformation/feature, one column "
            f"per attribute. Green below {SCORE_REVIEW}, orange from {SCORE_REVIEW} (review), "
            f"red from {SCORE_PROXY} (proxy). A score alone does not flag a feature: the "
            "detectors also require statistical significance.",
            Query(
                "label_join(max by (transformation, feature, attribute) (interceptor_proxy_score"
                f'{{{asel}}}), "feature", " / ", "transformation", "feature")',
                instant=True,
                table=True,
            ),
            width=24,
            height=10,
            hide=("Time", "transformation"),
            transformations=[matrix],
            unit="none",
            steps=((None, "green"), (SCORE_REVIEW, "orange"), (SCORE_PROXY, "red")),
        ),
        tabular(
            "Flagged features",
            "Features currently flagged (review or proxy), with their score. What to do: "
            "README 'InterceptorProxyFeatureFlagged'; the feature's owner is in its "
            "transformation manifest.",
            Query(
                f"max by ({key}) (interceptor_proxy_score{{{asel}}}) and on ({key}) "
                f"(max by ({key}) (interceptor_proxy_flagged{{{asel}}}) == 1)",
                instant=True,
                table=True,
            ),
            width=24,
            value="score",
            unit="none",
        ),
        ts(
            "Proxy score over time (top 20)",
            "The twenty highest proxy scores over time. Scores settle as samples accumulate; "
            "a score that climbs steadily points at a feature whose meaning changed.",
            [
                Query(
                    f"topk(20, max by ({key}) (interceptor_proxy_score{{{asel}}}))",
                    "{{transformation}} / {{feature}} ~ {{attribute}}",
                )
            ],
            unit="none",
        ),
        ts(
            "Proxy status changes",
            "Status changes of (transformation, feature, attribute) per interval, by the new "
            "status: clear, review, proxy, or insufficient_support (too few audit-panel "
            "samples to judge).",
            [
                Query(
                    "sum by (status) (increase(interceptor_proxy_status_changes_total"
                    f"{{{SEL}}}[{RATE}]))",
                    "{{status}}",
                )
            ],
        ),
    ):
        d = d.with_panel(panel)

    d = d.with_row(Row("Feature combinations"))
    for panel in (
        ts(
            "Combined features: balanced error rate",
            "A classifier trained (cross-fitted) on all features of a transformation to predict "
            "the attribute. Its balanced error rate: 0.5 is chance (the features say nothing), "
            "lower means the features together reveal the attribute even when no single one "
            "does.",
            [
                Query(
                    "min by (transformation, attribute) (interceptor_proxy_combination_ber"
                    f"{{{asel}}})",
                    "{{transformation}} ~ {{attribute}}",
                )
            ],
            unit="none",
        ),
        ts(
            "Combined features: AUC",
            "The same classifier's area under the ROC curve: 0.5 is chance, 1.0 perfect "
            "prediction of the protected attribute.",
            [
                Query(
                    "max by (transformation, attribute) (interceptor_proxy_combination_auc"
                    f"{{{asel}}})",
                    "{{transformation}} ~ {{attribute}}",
                )
            ],
            unit="none",
        ),
    ):
        d = d.with_panel(panel)

    d = d.with_row(Row("Audit panel"))
    for panel in (
        single(
            "Audit-panel entities",
            "Entities on the audit panel (protected attributes known, used by the detectors "
            "only) held in memory.",
            Query(f"max(interceptor_audit_panel_entities{{{SEL}}})"),
            width=6,
            height=8,
        ),
        ts(
            "Audit-panel coverage",
            "Share of records whose entity is on the audit panel and that reached the "
            "detectors. Only these records teach the detectors anything: too low and they "
            "cannot judge (InterceptorAuditPanelCoverageLow alert).",
            [
                Query(
                    f"{_rate('interceptor_detector_panel_records_total')} / "
                    f"{_rate('interceptor_records_total')}",
                    "coverage",
                )
            ],
            unit="percentunit",
            width=9,
        ),
        bars(
            "Samples per detector",
            "Audit-panel samples in each (transformation, feature) detector table. Judging "
            "needs thousands; features with few samples show insufficient_support.",
            Query(
                f"max by (transformation, feature) (interceptor_detector_samples{{{tsel}}})",
                "{{transformation}} / {{feature}}",
            ),
            width=9,
            steps=((None, "orange"), (1000, "green")),
        ),
    ):
        d = d.with_panel(panel)
    return d


#: File name (without .json) → the dashboard's builder.
DASHBOARDS: Final[dict[str, Callable[[], Dashboard]]] = {
    "overview": overview,
    "compliance": compliance,
    "proxy-detectors": proxy_detectors,
}


def _number_panels(model: dm.Dashboard) -> None:
    """Stable panel ids in layout order (links like ``viewPanel=3`` keep working)."""
    for i, panel in enumerate(model.panels or [], start=1):
        panel.id_val = i


def render(build: Callable[[], Dashboard]) -> str:
    model = build().build()
    _number_panels(model)
    return json.dumps(model, cls=JSONEncoder, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def render_all() -> dict[str, str]:
    """File name → JSON text of every dashboard."""
    return {f"{name}.json": render(build) for name, build in DASHBOARDS.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="directory to write into")
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    stale = []
    for name, text in render_all().items():
        path: Path = args.out / name
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run `make dashboards`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
