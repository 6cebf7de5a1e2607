"""Builds the output messages: routed records with their headers, and audit events.

Kept apart from the routing logic so the wire shape (DESIGN section 3) lives in one place. Audit
events are built as plain dicts that match :class:`interceptor.audit.AuditEvent` field for field
(the tests check that), because constructing a pydantic model per event costs more than the rest of
the record's path.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import orjson

from interceptor.audit import EntityHasher, utc_timestamp
from interceptor.envelope import (
    HEADER_DECISION,
    HEADER_ERROR,
    HEADER_POLICY,
    HEADER_RULES,
    HEADER_SRC_OFFSET,
    HEADER_SRC_PARTITION,
    HEADER_SRC_TOPIC,
    Header,
    OutputRecord,
    SourceRecord,
)
from interceptor.manifests import Manifest
from interceptor.policy.batch import ActionCode, FeatureEdit, RuleHit
from interceptor.policy.oneshot import apply_edits
from interceptor.policy.plan import StaticVerdict
from interceptor.records import DecodedRecord, DecodeFailure

__all__ = ["OutputBuilder"]

_ENTITY_CACHE_SIZE = 200_000
_OURS = "interceptor-"
_OUR_HEADER_COUNT = 6  # src topic, partition, offset, decision, rules, policy


@lru_cache(maxsize=4096)
def _rule_refs(hits: tuple[RuleHit, ...]) -> tuple[dict[str, str], ...]:
    """Audit rule references; one rule appears once even when it hit several features."""
    refs: dict[str, dict[str, str]] = {}
    for h in hits:
        refs.setdefault(
            h.rule_id, {"id": h.rule_id, "action": h.action, "severity": h.severity, "cite": h.cite}
        )
    return tuple(refs.values())


@lru_cache(maxsize=4096)
def _rule_ids(hits: tuple[RuleHit, ...]) -> bytes:
    """The ``interceptor-rules`` header. Records of a batch share few distinct hit sets, so both
    helpers are cached on the (hashable) hit tuple instead of rebuilt per record."""
    return ",".join(sorted({h.rule_id for h in hits})).encode()


class OutputBuilder:
    """Turns decisions into output messages with the DESIGN section 3 headers."""

    def __init__(self, hasher: EntityHasher) -> None:
        self._hash = hasher
        # Event ids: a random per-process prefix and a counter, unique without a uuid4 per event.
        self._id_prefix = uuid.uuid4().hex[:16]
        self._ids = itertools.count()
        self._batch_time: str | None = None
        self._where: dict[tuple[str, int], tuple[Header, Header]] = {}
        self._entities: dict[str, str] = {}

    def _entity(self, entity_id: str) -> str:
        """The salted hash, memoised: entities recur, and a keyed BLAKE2b is a microsecond."""
        hashed = self._entities.get(entity_id)
        if hashed is None:
            if len(self._entities) >= _ENTITY_CACHE_SIZE:
                self._entities.clear()
            hashed = self._entities[entity_id] = self._hash(entity_id)
        return hashed

    def begin_batch(self) -> None:
        """Stamp the audit events of the next batch with one time, taken once."""
        self._batch_time = utc_timestamp()

    def _headers(
        self,
        source: SourceRecord,
        decision: str,
        rules: bytes,
        policy: str,
        *,
        upstream: bool = True,
    ) -> tuple[Header, ...]:
        """Upstream headers (minus any ``interceptor-*`` ones a replayed record still carries,
        which would contradict ours) followed by the DESIGN section 3 headers."""
        where = self._where.get((source.topic, source.partition))
        if where is None:
            where = self._where[(source.topic, source.partition)] = (
                (HEADER_SRC_TOPIC, source.topic.encode()),
                (HEADER_SRC_PARTITION, str(source.partition).encode()),
            )
        kept = source.headers if upstream else ()
        if kept and any(name.startswith(_OURS) for name, _ in kept):
            kept = tuple(h for h in kept if not h[0].startswith(_OURS))
        return (
            *kept,
            *where,
            (HEADER_SRC_OFFSET, str(source.offset).encode()),
            (HEADER_DECISION, decision.encode()),
            (HEADER_RULES, rules),
            (HEADER_POLICY, policy.encode()),
        )

    def deadletter(self, source: SourceRecord, failure: DecodeFailure, policy: str) -> OutputRecord:
        """The original key, value and headers byte for byte, plus ours and the reason."""
        headers = (
            *source.headers,
            *self._headers(source, "deadletter", b"", policy, upstream=False),
            (HEADER_ERROR, failure.reason.encode()),
        )
        return OutputRecord("deadletter", source.key, source.value, headers)

    def decided(
        self,
        source: SourceRecord,
        record: DecodedRecord,
        manifest: Manifest | None,
        action: ActionCode,
        hits: tuple[RuleHit, ...],
        edits: Sequence[FeatureEdit],
        policy: str,
    ) -> tuple[str, list[OutputRecord]]:
        """Route a decided record: quarantine when blocked, clean otherwise, audit unless allow."""
        label = action.label
        rules = _rule_ids(hits)
        headers = self._headers(source, label, rules, policy)
        if action is ActionCode.BLOCK:
            routed = OutputRecord("quarantine", source.key, source.value, headers)
        elif edits:
            # Rewrite from the original JSON: cheaper than dumping the model, and any field the
            # model does not know (none today, by extra="forbid") could not be lost either way.
            document = orjson.loads(source.value or b"{}")
            document["features"] = apply_edits(record.features, edits)
            routed = OutputRecord("clean", source.key, orjson.dumps(document), headers)
        else:
            routed = OutputRecord("clean", source.key, source.value, headers)
        if action is ActionCode.ALLOW and not hits:
            return label, [routed]
        entity = self._entity(record.entity_id)
        event = {
            "event_id": f"{self._id_prefix}{next(self._ids):016x}",
            "time": self._batch_time or utc_timestamp(),
            "kind": "decision",
            "source": {
                "topic": source.topic,
                "partition": source.partition,
                "offset": source.offset,
            },
            "entity": entity,
            "transformation": manifest.id if manifest else record.transformation,
            "version": manifest.version if manifest else record.version,
            "decision": label,
            "rules": _rule_refs(hits),
            "evidence": {"edits": [{"feature": e.feature, "op": e.op} for e in edits]}
            if edits
            else {},
            "policy_hash": policy,
        }
        # The audit copy carries our headers only: upstream headers are not ours to republish.
        ours = headers[-_OUR_HEADER_COUNT:]
        return label, [routed, OutputRecord("audit", entity.encode(), orjson.dumps(event), ours)]

    def deletion(self, source: SourceRecord, entity_id: str, policy: str) -> list[OutputRecord]:
        """A tombstone for the feature store and the audit event that records it."""
        headers = self._headers(source, "block", b"entity-deleted", policy, upstream=False)
        tombstone = OutputRecord("clean", entity_id.encode("utf-8"), None, headers)
        event = self._event(
            "deletion",
            source=source,
            entity=self._hash(entity_id),
            decision="block",
            evidence={"tombstone": True},
            policy_hash=policy,
        )
        return [tombstone, self._audit(event, source)]

    def registration(
        self,
        manifest: Manifest,
        verdict: StaticVerdict,
        policy: str,
        source: SourceRecord | None = None,
    ) -> OutputRecord:
        """The static verdict of one manifest version under the bundle in force."""
        event = self._event(
            "registration",
            source=source,
            transformation=manifest.id,
            version=manifest.version,
            decision=verdict.decision,
            rules=_rule_refs(tuple(verdict.hits)),
            evidence={"purpose": manifest.purpose, "owner": manifest.owner},
            policy_hash=policy,
        )
        return self._audit(event, source)

    def registration_rejected(
        self, source: SourceRecord, key: str, problem: str, policy: str
    ) -> OutputRecord:
        event = self._event(
            "registration",
            source=source,
            transformation=key.partition(":")[0] or None,
            version=key.partition(":")[2] or None,
            decision="rejected",
            evidence={"problems": problem.splitlines()},
            policy_hash=policy,
        )
        return self._audit(event, source)

    def policy_reload(
        self, accepted: bool, policy: str, diagnostics: Sequence[str]
    ) -> OutputRecord:
        event = self._event(
            "policy_reload",
            decision="accepted" if accepted else "rejected",
            evidence={"diagnostics": list(diagnostics)},
            policy_hash=policy,
        )
        return self._audit(event, None)

    def proxy_status(
        self, transformation: str, evidence: dict[str, Any], decision: str, policy: str
    ) -> OutputRecord:
        """A detector's status for one feature changed (figures only, no protected values)."""
        event = self._event(
            "detector",
            transformation=transformation,
            decision=decision,
            evidence=evidence,
            policy_hash=policy,
        )
        return self._audit(event, None)

    def _event(
        self, kind: str, *, source: SourceRecord | None = None, **fields: Any
    ) -> dict[str, Any]:
        event: dict[str, Any] = {
            "event_id": f"{self._id_prefix}{next(self._ids):016x}",
            "time": utc_timestamp(),
            "kind": kind,
            "source": (
                {"topic": source.topic, "partition": source.partition, "offset": source.offset}
                if source is not None
                else None
            ),
            "entity": None,
            "transformation": None,
            "version": None,
            "decision": None,
            "rules": [],
            "evidence": {},
            "policy_hash": None,
        }
        event.update(fields)
        return event

    @staticmethod
    def _audit(event: dict[str, Any], source: SourceRecord | None) -> OutputRecord:
        key = (event["entity"] or event["transformation"] or event["kind"]).encode("utf-8")
        headers: tuple[Header, ...] = ()
        if source is not None:
            headers = (
                (HEADER_SRC_TOPIC, source.topic.encode()),
                (HEADER_SRC_PARTITION, str(source.partition).encode()),
                (HEADER_SRC_OFFSET, str(source.offset).encode()),
            )
        if event["decision"] is not None:
            headers = (*headers, (HEADER_DECISION, str(event["decision"]).encode()))
        if event["policy_hash"] is not None:
            headers = (*headers, (HEADER_POLICY, str(event["policy_hash"]).encode()))
        return OutputRecord("audit", key, orjson.dumps(event), headers)
