"""The proxy detectors inside the stream: panel join, tables, global flags, snapshots.

:class:`ProxyMonitor` is the pure-core half of DESIGN section 5. The pipeline hands it every
decoded record; records whose entity is on the audit panel feed the detector tables. On a timer
it merges its own tables with every other instance's latest snapshot (tables add), judges every
(transformation, feature, attribute), and reports the status changes, which the pipeline turns
into audit events and the rules see as ``feature.proxy.*``. Snapshots of the local tables go to
the compacted detector-state topic, keyed by instance id; on start an instance restores its own.

The multi-feature classifier is slow (seconds), so it runs on a worker thread; the loop only
collects a finished result. Protected attributes stay in this process: snapshots hold counts
per feature value and joint code, never an entity id or a protected value.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from interceptor.detectors.assess import ProxyFinding, Thresholds
from interceptor.detectors.bank import Assessment, BankSnapshot, DetectorBank
from interceptor.detectors.combination import CombinationResult
from interceptor.detectors.protected import ProtectedSchema
from interceptor.panel import AuditPanel
from interceptor.policy.batch import ProxyReading
from interceptor.scalars import Scalar

if TYPE_CHECKING:
    from interceptor.config import DetectorSettings

__all__ = ["DetectorReport", "ProxyMonitor", "StatusChange"]

log = logging.getLogger(__name__)

FindingKey = tuple[str, str, str]  # transformation, feature, attribute


@dataclass(frozen=True)
class StatusChange:
    """One (transformation, feature, attribute) whose status moved at an evaluation."""

    finding: ProxyFinding
    previous: str


@dataclass(frozen=True)
class DetectorReport:
    """What one evaluation found, for metrics, audit events and the demo summary."""

    evaluated_at: float
    findings: list[ProxyFinding]
    changes: list[StatusChange]
    samples: dict[tuple[str, str], int]
    combinations: list[tuple[str, CombinationResult]] = field(default_factory=list)
    #: The ``now`` of the classifier fit behind ``combinations`` (0.0: none finished yet).
    combinations_as_of: float = 0.0


class ProxyMonitor:
    """Panel, detector bank and the latest global view, driven by the loop thread."""

    def __init__(
        self,
        *,
        schema: ProtectedSchema,
        instance_id: str,
        thresholds: Thresholds | None = None,
        half_life_s: float | None = None,
        evaluate_interval_s: float = 5.0,
        snapshot_interval_s: float = 10.0,
        combination_interval_s: float = 60.0,
    ) -> None:
        self.schema = schema
        self.instance_id = instance_id
        self.panel = AuditPanel(schema)
        self._thresholds = thresholds or Thresholds()
        self.bank = DetectorBank(schema, thresholds=self._thresholds, half_life_s=half_life_s)
        self._evaluate_every = evaluate_interval_s
        self._snapshot_every = snapshot_interval_s
        self._combination_every = combination_interval_s
        self._remote: dict[str, BankSnapshot] = {}
        self._own_latest: BankSnapshot | None = None
        self._started = False
        self._next_evaluation = 0.0
        self._next_snapshot = 0.0
        self._next_combination = 0.0
        self._dirty = False  # observed something since the last snapshot
        self._statuses: dict[FindingKey, str] = {}
        self._readings: dict[tuple[str, str], ProxyReading] = {}
        self._combinations: dict[tuple[str, str], CombinationResult] = {}
        self._worker: ThreadPoolExecutor | None = None
        self._pending: Future[list[CombinationResult]] | None = None
        # Each panel entity counts once per transformation and epoch (one half-life): a stream
        # repeats the same person's features, and counting every repeat would make N the number
        # of records, not of people, and every test far too confident.
        self._epoch_s = half_life_s
        self._epoch_ends = 0.0
        self._counted: set[int] = set()
        self._transformation_ids: dict[str, int] = {}
        self.panel_records = 0
        self.last_report: DetectorReport | None = None
        #: The ``now`` of the classifier fit behind the latest combination results (0: none yet).
        self.combinations_as_of = 0.0
        self._pending_as_of = 0.0

    @classmethod
    def from_settings(cls, settings: DetectorSettings) -> ProxyMonitor:
        monitor = cls(
            schema=ProtectedSchema.from_mapping(settings.protected),
            instance_id=settings.instance,
            thresholds=Thresholds(
                review=settings.review_threshold,
                proxy=settings.proxy_threshold,
                alpha=settings.alpha,
                min_samples=settings.min_samples,
            ),
            half_life_s=settings.half_life_s,
            evaluate_interval_s=settings.evaluate_interval_ms / 1000,
            snapshot_interval_s=settings.snapshot_interval_ms / 1000,
            combination_interval_s=settings.combination_interval_ms / 1000,
        )
        if settings.panel_file is not None:
            loaded = monitor.panel.load_file(settings.panel_file, settings.panel_entity_column)
            log.info("audit panel file %s: %d entities", settings.panel_file, loaded)
        return monitor

    # ---- what the rules see ----------------------------------------------------------------------

    @property
    def readings(self) -> Mapping[tuple[str, str], ProxyReading]:
        """(transformation, feature) → the worst status over the attributes, as of the last
        evaluation. Features never judged are absent: the rules then see
        ``insufficient_support`` and ``flagged: false``."""
        return self._readings

    # ---- state topics ----------------------------------------------------------------------------

    def on_panel(self, key: bytes | None, value: bytes | None) -> str | None:
        return self.panel.apply(key, value)

    def forget(self, entity_id: str) -> None:
        """A deleted consumer leaves the panel (the aggregate tables cannot single them out)."""
        self.panel.remove(entity_id)

    def on_snapshot(self, key: bytes | None, value: bytes | None) -> str | None:
        """A detector-state message: another instance's tables, or this instance's own."""
        if not key:
            return "detector snapshot without an instance key"
        instance = key.decode("utf-8", errors="replace")
        if value is None:
            self._remote.pop(instance, None)
            return None
        try:
            snapshot = BankSnapshot.from_bytes(value)
        except ValueError as exc:
            return f"unreadable detector snapshot from {instance}: {exc}"
        if instance == self.instance_id:
            if not self._started:
                self._own_latest = snapshot  # restored before the first record is observed
            return None  # later ones are this instance's own publications
        self._remote[instance] = snapshot
        return None

    def _start(self) -> None:
        if self._started:
            return
        self._started = True
        if self._own_latest is not None:
            self.bank.restore(self._own_latest)
            log.info("restored this instance's detector tables (%s)", self.instance_id)
            self._own_latest = None

    # ---- the batch path ----------------------------------------------------------------------

    def observe(
        self,
        transformations: Sequence[str],
        entity_ids: Sequence[str],
        features: Sequence[Mapping[str, Scalar]],
        now: float,
    ) -> int:
        """Feed the records of panel entities not yet counted for their transformation in this
        epoch; return how many that was."""
        self._start()
        if not len(self.panel):
            return 0
        columns = self.panel.columns(entity_ids)
        members = np.flatnonzero(columns.on_panel)
        if not len(members):
            return 0
        if self._epoch_s is not None and now >= self._epoch_ends:
            self._counted.clear()
            self._epoch_ends = now + self._epoch_s
        counted = self._counted
        ids = self._transformation_ids
        groups = columns.groups.tolist()
        by_transformation: dict[str, list[int]] = {}
        for i in members.tolist():
            transformation = transformations[i]
            tid = ids.setdefault(transformation, len(ids))
            key = (tid << 32) | groups[i]
            if key in counted:
                continue
            counted.add(key)
            by_transformation.setdefault(transformation, []).append(i)
        if not by_transformation:
            return 0
        fed = sum(len(rows) for rows in by_transformation.values())
        for transformation, rows in by_transformation.items():
            index = np.asarray(rows, dtype=np.intp)
            self.bank.observe(
                transformation,
                [features[i] for i in rows],
                columns.codes[index],
                columns.folds[index],
                now,
                groups=columns.groups[index],
            )
        self.panel_records += fed
        self._dirty = True
        return fed

    # ---- timers ------------------------------------------------------------------------------

    def evaluation_due(self, now: float) -> bool:
        return now >= self._next_evaluation

    def evaluate(self, now: float) -> DetectorReport:
        """Judge every feature on the merged tables; remember and return what changed."""
        self._start()
        self._next_evaluation = now + self._evaluate_every
        self._collect_combinations()
        assessment: Assessment = self.bank.evaluate(now, remote=self._remote.values())
        changes: list[StatusChange] = []
        statuses: dict[FindingKey, str] = {}
        for finding in assessment.findings:
            key = (finding.transformation, finding.feature, finding.attribute)
            statuses[key] = finding.status
            previous = self._statuses.get(key, "insufficient_support")
            if previous != finding.status:
                changes.append(StatusChange(finding, previous))
        self._statuses = statuses
        self._readings = {
            key: ProxyReading(score=score, flagged=flagged, status=status)
            for key, (score, flagged, status) in assessment.readings.items()
        }
        self._maybe_start_combination(now)
        report = DetectorReport(
            evaluated_at=now,
            findings=list(assessment.findings),
            changes=changes,
            samples=dict(self.bank.samples()),
            combinations=sorted(
                ((t, r) for (t, _), r in self._combinations.items()), key=lambda x: x[0]
            ),
            combinations_as_of=self.combinations_as_of,
        )
        self.last_report = report
        return report

    @property
    def unsaved(self) -> bool:
        """Something was observed since the last snapshot."""
        return self._dirty

    def snapshot_due(self, now: float) -> bool:
        return self._dirty and now >= self._next_snapshot

    def snapshot(self, now: float) -> bytes:
        """This instance's tables, for the detector-state topic under key ``instance_id``."""
        self._start()
        self._next_snapshot = now + self._snapshot_every
        self._dirty = False
        return self.bank.snapshot(now, self.instance_id).to_bytes()

    # ---- the combination detector, off the loop thread ---------------------------------------

    def _maybe_start_combination(self, now: float) -> None:
        if self._pending is not None or now < self._next_combination:
            return
        self._next_combination = now + self._combination_every
        if self._worker is None:
            self._worker = ThreadPoolExecutor(1, thread_name_prefix="proxy-combination")
        self._pending = self._worker.submit(self.bank.run_combination, now)
        self._pending_as_of = now

    def _collect_combinations(self) -> None:
        pending = self._pending
        if pending is None or not pending.done():
            return
        self._pending = None
        try:
            results = pending.result()
        except Exception:  # a failed fit must not take the detectors down
            log.exception("the multi-feature proxy classifier failed")
            return
        for result in results:
            self._combinations[(result.transformation, result.attribute)] = result
        self.combinations_as_of = self._pending_as_of

    def close(self) -> None:
        if self._worker is not None:
            self._worker.shutdown(wait=False, cancel_futures=True)
            self._worker = None
        self._pending = None
