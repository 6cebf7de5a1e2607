"""The pure core: a batch of consumed messages in, output messages and counts out.

No Kafka import: the stream runner, the tests and any batch job call the same :class:`Pipeline`.
Every input record leaves as exactly one of clean, quarantine or dead-letter, plus an audit event
for every decision other than ``allow``. A fault while deciding quarantines the batch instead of
forwarding it: the interceptor fails closed (``on_evaluation_error="forward"`` fails open instead:
the records go to clean unchanged, flagged with the ``evaluation-fault`` rule, and it is logged
loudly every time).
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from interceptor.audit import EntityHasher
from interceptor.consent import ConsentStore
from interceptor.envelope import (
    HEADER_DECISION,
    HEADER_POLICY,
    HEADER_RULES,
    HEADER_SRC_OFFSET,
    HEADER_SRC_PARTITION,
    HEADER_SRC_TOPIC,
    OutputRecord,
    SourceRecord,
)
from interceptor.errors import ManifestError
from interceptor.manifests import Manifest, ManifestRegistry, load_manifest_dir, parse_manifest
from interceptor.outputs import OutputBuilder
from interceptor.policy import PolicyBundle, PolicyWatcher, load_bundle
from interceptor.policy.batch import ActionCode, BatchInput, ProxyReading, RuleHit
from interceptor.proxies import DetectorReport, ProxyMonitor
from interceptor.records import (
    DEFAULT_MAX_RECORD_BYTES,
    DecodedRecord,
    DecodeFailure,
    decode_record,
)

if TYPE_CHECKING:
    from interceptor.config import Settings

__all__ = [
    "BatchResult",
    "EvaluationErrorPolicy",
    "Maintenance",
    "Pipeline",
    "PolicyReload",
    "UnregisteredPolicy",
]

log = logging.getLogger(__name__)

UnregisteredPolicy = Literal["block", "deadletter"]
EvaluationErrorPolicy = Literal["quarantine", "forward"]

#: Hits the pipeline adds itself, outside any policy file, because they must hold whatever the pack.
UNREGISTERED_HIT = RuleHit(
    "unregistered-transformation", "block", "critical", "DESIGN: on_unregistered=block"
)
DELETED_HIT = RuleHit("entity-deleted", "block", "critical", "Cal. Civ. Code 1798.105(a),(c)")
_ACTIONS = tuple(ActionCode)  # index = code value
MISMATCH_HIT = RuleHit(
    "transformation-mismatch",
    "block",
    "critical",
    "DESIGN: a topic mapped to a transformation carries only that transformation",
)
FAULT_HIT = RuleHit("evaluation-fault", "block", "critical", "fail closed on evaluation error")
FAULT_OPEN_HIT = RuleHit(
    "evaluation-fault",
    "flag",
    "critical",
    "fail open on evaluation error (processing.on_evaluation_error=forward)",
)


@dataclass
class BatchResult:
    """Everything the runner needs from one batch."""

    outputs: list[OutputRecord]
    decisions: Counter[str] = field(default_factory=Counter)
    rule_matches: Counter[tuple[str, str]] = field(default_factory=Counter)
    deadletter_reasons: Counter[str] = field(default_factory=Counter)
    #: (transformation id, decision) → records; ``none`` for dead letters, ``unregistered`` for
    #: records naming no registered manifest (their names are the sender's, so unbounded).
    transformation_decisions: Counter[tuple[str, str]] = field(default_factory=Counter)
    consent_known: int = 0  # decided records whose entity had consent state on file
    consent_unknown: int = 0


@dataclass(frozen=True)
class PolicyReload:
    """The result of a hot-reload attempt."""

    accepted: bool
    policy_hash: str
    diagnostics: list[str]
    outputs: list[OutputRecord]


@dataclass(frozen=True)
class Maintenance:
    """Timed work between batches: detector audit events, a snapshot, the evaluation behind them."""

    outputs: list[OutputRecord]
    report: DetectorReport | None = None


@dataclass
class _Pending:
    """A record that decoded and resolved to a manifest, waiting for the policy decision."""

    index: int
    source: SourceRecord
    record: DecodedRecord
    manifest: Manifest


class Pipeline:
    """Decode, resolve, decide and route one batch at a time."""

    def __init__(
        self,
        *,
        bundle: PolicyBundle,
        manifests: ManifestRegistry,
        consent: ConsentStore | None = None,
        entity_salt: bytes,
        on_unregistered: UnregisteredPolicy = "block",
        transformation_by_topic: Mapping[str, str] | None = None,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        watcher: PolicyWatcher | None = None,
        proxy: ProxyMonitor | None = None,
        on_evaluation_error: EvaluationErrorPolicy = "quarantine",
    ) -> None:
        self._bundle = bundle
        self.proxy = proxy
        self.manifests = manifests
        self.consent = consent if consent is not None else ConsentStore()
        self._hasher = EntityHasher(entity_salt)
        self._hash_key = hashlib.blake2b(entity_salt, person=b"feature-hash").digest()
        self._on_unregistered = on_unregistered
        self._by_topic = dict(transformation_by_topic or {})
        self._max_bytes = max_record_bytes
        self._watcher = watcher
        self._on_evaluation_error = on_evaluation_error
        self._verdicts: dict[tuple[str, str], str] = {}
        self._out = OutputBuilder(self._hasher)

    @classmethod
    def from_settings(cls, settings: Settings) -> Pipeline:
        """The pipeline a ``run --config`` deployment describes."""
        return cls.from_directories(
            policies=Path(settings.policies.path),
            manifests=Path(settings.manifests.path) if settings.manifests.path else None,
            entity_salt=settings.audit.entity_salt.get_secret_value().encode("utf-8"),
            reload=settings.policies.reload,
            reload_interval_s=settings.policies.reload_interval_ms / 1000,
            on_unregistered=settings.processing.on_unregistered,
            transformation_by_topic=settings.topics.transformation_by_topic,
            max_record_bytes=settings.processing.max_record_bytes,
            proxy=(
                ProxyMonitor.from_settings(settings.detectors)
                if settings.detectors.enabled
                else None
            ),
            on_evaluation_error=settings.processing.on_evaluation_error,
        )

    @classmethod
    def from_directories(
        cls,
        *,
        policies: Path,
        manifests: Path | None,
        entity_salt: bytes,
        reload: bool = True,
        reload_interval_s: float = 1.0,
        on_unregistered: UnregisteredPolicy = "block",
        transformation_by_topic: Mapping[str, str] | None = None,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        proxy: ProxyMonitor | None = None,
        on_evaluation_error: EvaluationErrorPolicy = "quarantine",
    ) -> Pipeline:
        """Load the policy bundle and the manifest directory; raise if either is broken."""
        return cls(
            bundle=load_bundle(policies),
            manifests=ManifestRegistry(load_manifest_dir(manifests) if manifests else ()),
            entity_salt=entity_salt,
            watcher=PolicyWatcher(policies, min_interval_s=reload_interval_s) if reload else None,
            on_unregistered=on_unregistered,
            transformation_by_topic=transformation_by_topic,
            max_record_bytes=max_record_bytes,
            proxy=proxy,
            on_evaluation_error=on_evaluation_error,
        )

    # ---- state the runner reports -------------------------------------------------------------

    @property
    def policy_hash(self) -> str:
        return self._bundle.hash

    @property
    def bundle(self) -> PolicyBundle:
        return self._bundle

    @property
    def consent_entities(self) -> int:
        return len(self.consent)

    def verdict_of(self, manifest: Manifest) -> str:
        """The static verdict of a manifest under the bundle in force, cached per version."""
        cached = self._verdicts.get(manifest.key)
        if cached is None:
            cached = self._bundle.compiled.judge_transformation(manifest).decision
            self._verdicts[manifest.key] = cached
        return cached

    def verdict_counts(self) -> Counter[str]:
        return Counter(self.verdict_of(m) for m in self.manifests)

    # ---- the batch path -------------------------------------------------------------------------

    def process(self, batch: Sequence[SourceRecord], *, now: float) -> BatchResult:
        """Route every record of ``batch`` to exactly one of clean, quarantine or dead-letter."""
        policy = self.policy_hash
        self._out.begin_batch()
        result = BatchResult(outputs=[])
        routed: list[tuple[str, list[OutputRecord]] | None] = [None] * len(batch)
        label: list[str] = ["none"] * len(batch)  # transformation label per record, for metrics
        pending: list[_Pending] = []
        for index, source in enumerate(batch):
            decoded = decode_record(source.value, max_bytes=self._max_bytes)
            if isinstance(decoded, DecodeFailure):
                routed[index] = ("deadletter", [self._out.deadletter(source, decoded, policy)])
                result.deadletter_reasons[decoded.reason] += 1
                continue
            resolved = self._resolve(source, decoded)
            if isinstance(resolved, DecodeFailure):
                routed[index] = ("deadletter", [self._out.deadletter(source, resolved, policy)])
                result.deadletter_reasons[resolved.reason] += 1
            elif isinstance(resolved, RuleHit):
                routed[index] = self._out.decided(
                    source, decoded, None, ActionCode.BLOCK, (resolved,), (), policy
                )
                result.rule_matches[(resolved.rule_id, "block")] += 1
                label[index] = "unregistered"
            else:
                pending.append(_Pending(index, source, decoded, resolved))
                label[index] = resolved.id
        if pending:
            self._decide(pending, now, routed, result, policy)
        for index, entry in enumerate(routed):
            assert entry is not None, f"record {index} of the batch was not routed"
            decision, outputs = entry
            result.outputs.extend(outputs)
            result.decisions[decision] += 1
            result.transformation_decisions[(label[index], decision)] += 1
        return result

    def _resolve(
        self, source: SourceRecord, record: DecodedRecord
    ) -> Manifest | DecodeFailure | RuleHit:
        """The record's manifest, or why it has none: a dead-letter reason or a blocking hit."""
        mapped = self._by_topic.get(source.topic)
        if mapped is not None and record.transformation not in (None, mapped):
            return MISMATCH_HIT  # a record may not pick a different (perhaps laxer) manifest
        name = record.transformation or mapped
        if name is None:
            return DecodeFailure(
                "missing_transformation",
                f"no transformation field and no mapping for topic {source.topic!r}",
            )
        manifest = self.manifests.resolve(name, record.version)
        if manifest is not None:
            return manifest
        if self._on_unregistered == "block":
            return UNREGISTERED_HIT
        version = record.version or "latest"
        return DecodeFailure(
            "unregistered_transformation", f"transformation {name}:{version} is not registered"
        )

    def _decide(
        self,
        pending: list[_Pending],
        now: float,
        routed: list[tuple[str, list[OutputRecord]] | None],
        result: BatchResult,
        policy: str,
    ) -> None:
        positions: dict[tuple[str, str], int] = {}
        manifests: list[Manifest] = []
        index = np.empty(len(pending), dtype=np.int32)
        for i, item in enumerate(pending):
            slot = positions.get(item.manifest.key)
            if slot is None:
                slot = positions[item.manifest.key] = len(manifests)
                manifests.append(item.manifest)
            index[i] = slot
        entity_ids = [item.record.entity_id for item in pending]
        features = [item.record.features for item in pending]
        try:
            readings: Mapping[tuple[str, str], ProxyReading] = {}
            if self.proxy is not None:
                # Before the decision, inside the fail-closed block: a detector fault quarantines.
                self.proxy.observe(
                    [item.manifest.id for item in pending], entity_ids, features, now
                )
                readings = self.proxy.readings
            consent = self.consent.columns(entity_ids)
            known = int(consent.known.sum())
            result.consent_known += known
            result.consent_unknown += len(pending) - known
            batch = BatchInput(
                manifests=manifests,
                manifest_index=index,
                entity_id=entity_ids,
                event_time=np.fromiter(
                    (item.record.event_epoch for item in pending), np.float64, len(pending)
                ),
                now=now,
                features=features,
                context=[item.record.context for item in pending],
                consent=consent,
                proxy=readings,
            )
            decision = self._bundle.compiled.decide(batch, hash_key=self._hash_key)
        except Exception:  # fail closed: a fault must never forward an undecided record
            self._faulted(
                [(p.index, p.source, p.record, p.manifest) for p in pending], routed, result, policy
            )
            return
        # Per-record Python is the cost that matters here: read numpy columns as lists once and
        # count rule matches per distinct hit set rather than per hit.
        codes = decision.action.tolist()
        deleted = consent.deleted.tolist()
        hit_sets: Counter[tuple[RuleHit, ...]] = Counter()
        decided = self._out.decided
        for i, item in enumerate(pending):
            action = _ACTIONS[codes[i]]
            hits = tuple(decision.hits[i])
            if deleted[i] and action is not ActionCode.BLOCK:
                action, hits = ActionCode.BLOCK, (*hits, DELETED_HIT)
            if hits:
                hit_sets[hits] += 1
            edits = decision.edits[i] if action is not ActionCode.BLOCK else ()
            routed[item.index] = decided(
                item.source, item.record, item.manifest, action, hits, edits, policy
            )
        for hits, count in hit_sets.items():
            # One match per rule and record, however many of the record's features it hit.
            for rule_action in {(hit.rule_id, hit.action) for hit in hits}:
                result.rule_matches[rule_action] += count

    def _faulted(
        self,
        pending: Sequence[tuple[int, SourceRecord, DecodedRecord, Manifest | None]],
        routed: list[tuple[str, list[OutputRecord]] | None],
        result: BatchResult,
        policy: str,
    ) -> None:
        """Route records whose evaluation raised: quarantine, or forward flagged (fail open)."""
        if self._on_evaluation_error == "forward":
            log.exception(
                "evaluation failed; FAILING OPEN: forwarding %d undecided records flagged "
                "evaluation-fault (processing.on_evaluation_error=forward)",
                len(pending),
            )
            action, hit = ActionCode.FLAG, FAULT_OPEN_HIT
        else:
            log.exception("evaluation failed; quarantining %d records", len(pending))
            action, hit = ActionCode.BLOCK, FAULT_HIT
        for index, source, record, manifest in pending:
            routed[index] = self._out.decided(source, record, manifest, action, (hit,), (), policy)
            result.rule_matches[(hit.rule_id, hit.action)] += 1

    def fallback(self, batch: Sequence[SourceRecord], *, now: float) -> BatchResult:
        """Route a batch whose :meth:`process` raised: nothing of it goes out undecided.

        Records that do not decode go to dead-letter as usual; the others are quarantined with
        rule ``evaluation-fault`` (or forwarded flagged when failing open). A record for which
        even that fails is quarantined byte for byte with our headers. Never raises.
        """
        policy = self.policy_hash
        result = BatchResult(outputs=[])
        for source in batch:
            transformation = "none"
            try:
                label, outputs, transformation = self._fallback_one(source, policy, result)
            except Exception:
                log.exception(
                    "cannot route %s[%d]@%d; quarantining it as it is",
                    source.topic,
                    source.partition,
                    source.offset,
                )
                label, outputs = "block", [_raw_quarantine(source, policy)]
                result.rule_matches[(FAULT_HIT.rule_id, "block")] += 1
            result.outputs.extend(outputs)
            result.decisions[label] += 1
            result.transformation_decisions[(transformation, label)] += 1
        return result

    def _fallback_one(
        self, source: SourceRecord, policy: str, result: BatchResult
    ) -> tuple[str, list[OutputRecord], str]:
        """(decision, outputs, transformation label) of one record of a failed batch."""
        decoded = decode_record(source.value, max_bytes=self._max_bytes)
        if isinstance(decoded, DecodeFailure):
            result.deadletter_reasons[decoded.reason] += 1
            return "deadletter", [self._out.deadletter(source, decoded, policy)], "none"
        routed: list[tuple[str, list[OutputRecord]] | None] = [None]
        manifest = self.manifests.resolve(decoded.transformation or "", decoded.version)
        self._faulted([(0, source, decoded, manifest)], routed, result, policy)
        entry = routed[0]
        assert entry is not None
        return entry[0], entry[1], manifest.id if manifest is not None else "unregistered"

    # ---- state topics and reloads ---------------------------------------------------------------

    def startup(self) -> list[OutputRecord]:
        """Registration audit events: every registered manifest's verdict under the bundle."""
        return [
            self._out.registration(
                m, self._bundle.compiled.judge_transformation(m), self.policy_hash
            )
            for m in self.manifests
        ]

    def on_consent(self, message: SourceRecord) -> list[OutputRecord]:
        """Apply a consent-topic message; a new deletion yields a tombstone and an audit event."""
        update = self.consent.apply(message.key, message.value)
        if update.error:
            log.warning(
                "ignored consent message %s[%d]@%d: %s",
                message.topic,
                message.partition,
                message.offset,
                update.error,
            )
            return []
        if not update.newly_deleted:
            return []
        if self.proxy is not None:
            self.proxy.forget(update.entity_id)
        return self._out.deletion(message, update.entity_id, self.policy_hash)

    def on_panel(self, message: SourceRecord) -> list[OutputRecord]:
        """Apply an audit-panel message. Problems are logged without the values they held."""
        if self.proxy is not None:
            _log_ignored("audit-panel message", message, self.proxy.on_panel)
        return []

    def on_detector_state(self, message: SourceRecord) -> list[OutputRecord]:
        """Apply a detector-state snapshot (another instance's, or this one's on restart)."""
        if self.proxy is not None:
            _log_ignored("detector snapshot", message, self.proxy.on_snapshot)
        return []

    def maintain(self, now: float, *, closing: bool = False) -> Maintenance:
        """Timed detector work: evaluate (audit events for status changes) and snapshot.

        ``closing`` snapshots whatever was observed since the last snapshot, due or not, so a
        restart restores everything this process counted.
        """
        proxy = self.proxy
        if proxy is None:
            return Maintenance([])
        outputs: list[OutputRecord] = []
        report = None
        if proxy.evaluation_due(now):
            report = proxy.evaluate(now)
            policy = self.policy_hash
            for change in report.changes:
                f = change.finding
                evidence = {
                    "feature": f.feature,
                    "attribute": f.attribute,
                    "status": f.status,
                    "previous": change.previous,
                    "score": round(f.score, 6),
                    "ci_low": round(f.ci_low, 6),
                    "ci_high": round(f.ci_high, 6),
                    "p_value": f.p_value,
                    "n": f.n,
                    "method": f.method,
                }
                outputs.append(self._out.proxy_status(f.transformation, evidence, f.status, policy))
        if proxy.snapshot_due(now) or (closing and proxy.unsaved):
            snapshot = proxy.snapshot(now)
            if len(snapshot) <= self._max_bytes:
                key = proxy.instance_id.encode("utf-8")
                outputs.append(OutputRecord("detector_state", key, snapshot, ()))
            else:  # an undeliverable message would hold up every commit behind it
                log.error(
                    "detector snapshot of %d bytes exceeds processing.max_record_bytes (%d); "
                    "not published, so other instances and a restart do not see these tables",
                    len(snapshot),
                    self._max_bytes,
                )
        return Maintenance(outputs, report)

    def on_manifest(self, message: SourceRecord) -> list[OutputRecord]:
        """Apply a registry-topic message (key ``id:version``; null value unregisters)."""
        key = (message.key or b"").decode("utf-8", errors="replace")
        if message.value is None:
            transformation, _, version = key.partition(":")
            self.manifests.unregister(transformation, version)
            self._verdicts.pop((transformation, version), None)
            return []
        try:
            manifest = parse_manifest(message.value.decode("utf-8"), f"{message.topic}/{key}")
        except (ManifestError, UnicodeDecodeError) as exc:
            log.warning("rejected manifest %s from %s: %s", key, message.topic, exc)
            return [self._out.registration_rejected(message, key, str(exc), self.policy_hash)]
        if key != f"{manifest.id}:{manifest.version}":
            problem = f"key {key!r} does not match the manifest's id:version"
            log.warning("rejected manifest from %s: %s", message.topic, problem)
            return [self._out.registration_rejected(message, key, problem, self.policy_hash)]
        self.manifests.register(manifest)
        self._verdicts.pop(manifest.key, None)
        verdict = self._bundle.compiled.judge_transformation(manifest)
        self._verdicts[manifest.key] = verdict.decision
        return [self._out.registration(manifest, verdict, self.policy_hash, source=message)]

    def poll_policy(self) -> PolicyReload | None:
        """Swap in a changed bundle if it is fully valid; keep the last good one otherwise."""
        if self._watcher is None:
            return None
        outcome = self._watcher.poll()
        if outcome is None:
            return None
        if (
            outcome.accepted
            and outcome.bundle is not None
            and outcome.bundle.hash == self.policy_hash
        ):
            return None  # the same content (e.g. the watcher's first look): nothing to swap
        if outcome.accepted and outcome.bundle is not None:
            previous = self.policy_hash
            self._bundle = outcome.bundle
            self._verdicts.clear()
            log.info("policy bundle %s replaced %s", self.policy_hash, previous)
        else:
            log.error(
                "policy change rejected; bundle %s stays in force:\n%s",
                self.policy_hash,
                "\n".join(outcome.diagnostics),
            )
        outputs = [self._out.policy_reload(outcome.accepted, self.policy_hash, outcome.diagnostics)]
        if outcome.accepted:
            outputs += self.startup()  # every manifest's verdict under the new bundle
        return PolicyReload(outcome.accepted, self.policy_hash, list(outcome.diagnostics), outputs)


def _log_ignored(
    what: str, message: SourceRecord, apply: Callable[[bytes | None, bytes | None], str | None]
) -> None:
    """Apply a state message; log why it was ignored, if it was (the reason, never the value)."""
    problem = apply(message.key, message.value)
    if problem is not None:
        log.warning(
            "ignored %s %s[%d]@%d: %s",
            what,
            message.topic,
            message.partition,
            message.offset,
            problem,
        )


def _raw_quarantine(source: SourceRecord, policy: str) -> OutputRecord:
    """The last resort of :meth:`Pipeline.fallback`: the input unchanged, blocked."""
    headers = (
        (HEADER_SRC_TOPIC, source.topic.encode()),
        (HEADER_SRC_PARTITION, str(source.partition).encode()),
        (HEADER_SRC_OFFSET, str(source.offset).encode()),
        (HEADER_DECISION, b"block"),
        (HEADER_RULES, FAULT_HIT.rule_id.encode()),
        (HEADER_POLICY, policy.encode()),
    )
    return OutputRecord("quarantine", source.key, source.value, headers)
