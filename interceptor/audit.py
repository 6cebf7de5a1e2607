"""Audit events: the compliance trail written to ``compliance.audit``.

An audit event never carries a raw entity id or a protected attribute: entities appear as a keyed
(salted) hash, so the trail can be joined by whoever holds the salt and by no one else.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AuditEvent", "AuditKind", "EntityHasher", "RuleRef", "SourceRef", "utc_timestamp"]

AuditKind = Literal["decision", "registration", "detector", "deletion", "policy_reload"]


class SourceRef(BaseModel):
    """Where the input record was read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: str
    partition: int
    offset: int


class RuleRef(BaseModel):
    """A rule that took part in a decision."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    action: str
    severity: str
    cite: str


def utc_timestamp() -> str:
    """Now, as the RFC 3339 UTC text (milliseconds, ``Z``) every audit event carries."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AuditEvent(BaseModel):
    """One entry of the audit trail (DESIGN section 3)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    time: str = Field(default_factory=utc_timestamp)
    kind: AuditKind
    source: SourceRef | None = None
    entity: str | None = None
    transformation: str | None = None
    version: str | None = None
    decision: str | None = None
    rules: tuple[RuleRef, ...] = ()
    evidence: dict[str, Any] = Field(default_factory=dict)
    policy_hash: str | None = None


class EntityHasher:
    """Keyed BLAKE2b of entity ids: stable for joins, useless without the salt."""

    def __init__(self, salt: bytes) -> None:
        if len(salt) < 16:
            raise ValueError("the audit entity salt must be at least 16 bytes")
        self._key = hashlib.blake2b(salt, digest_size=32).digest()

    def __call__(self, entity_id: str) -> str:
        digest = hashlib.blake2b(entity_id.encode("utf-8"), key=self._key, digest_size=16)
        return digest.hexdigest()
