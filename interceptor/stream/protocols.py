"""What the stream runner needs from the pure pipeline, as structural types.

The runner depends on these shapes, not on :mod:`interceptor.pipeline`, so it can be exercised
with a stand-in and the pipeline can change its internals freely.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from interceptor.envelope import OutputRecord, SourceRecord

__all__ = ["BatchOutcome", "PipelineLike", "ReloadOutcome"]


class BatchOutcome(Protocol):
    """``Pipeline.process`` result: the outputs and what to count."""

    @property
    def outputs(self) -> list[OutputRecord]: ...
    @property
    def decisions(self) -> Mapping[str, int]: ...
    @property
    def rule_matches(self) -> Mapping[tuple[str, str], int]: ...
    @property
    def deadletter_reasons(self) -> Mapping[str, int]: ...


class ReloadOutcome(Protocol):
    """``Pipeline.poll_policy`` result."""

    @property
    def accepted(self) -> bool: ...
    @property
    def policy_hash(self) -> str: ...
    @property
    def diagnostics(self) -> list[str]: ...
    @property
    def outputs(self) -> list[OutputRecord]: ...


class PipelineLike(Protocol):
    """The calls the runner makes on the pipeline, all from the loop thread."""

    @property
    def policy_hash(self) -> str: ...
    @property
    def consent_entities(self) -> int: ...

    def startup(self) -> list[OutputRecord]: ...
    def process(self, batch: Sequence[SourceRecord], *, now: float) -> BatchOutcome: ...
    def on_consent(self, message: SourceRecord) -> list[OutputRecord]: ...
    def on_manifest(self, message: SourceRecord) -> list[OutputRecord]: ...
    def poll_policy(self) -> ReloadOutcome | None: ...
    def verdict_counts(self) -> Mapping[str, int]: ...
