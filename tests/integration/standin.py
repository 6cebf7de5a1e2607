"""A stand-in pipeline with the real one's shape, for testing the stream protocol alone."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from interceptor.envelope import OutputRecord, SourceRecord


@dataclass
class Outcome:
    outputs: list[OutputRecord]
    decisions: Counter[str] = field(default_factory=Counter)
    rule_matches: Counter[tuple[str, str]] = field(default_factory=Counter)
    deadletter_reasons: Counter[str] = field(default_factory=Counter)
    transformation_decisions: Counter[tuple[str, str]] = field(default_factory=Counter)
    consent_known: int = 0
    consent_unknown: int = 0


def src_headers(record: SourceRecord, decision: str) -> tuple[tuple[str, bytes], ...]:
    return (
        *record.headers,
        ("interceptor-src-topic", record.topic.encode()),
        ("interceptor-src-partition", str(record.partition).encode()),
        ("interceptor-src-offset", str(record.offset).encode()),
        ("interceptor-decision", decision.encode()),
        ("interceptor-rules", b""),
        ("interceptor-policy", b"standin"),
    )


class StandInPipeline:
    """Routes ``b"bad"`` values to dead-letter and everything else to clean.

    ``mangle(record, attempt)`` may replace a record's clean value, e.g. with one too large to
    produce, to inject delivery failures.
    """

    policy_hash = "standin"

    def __init__(self, mangle: Callable[[SourceRecord, int], bytes | None] | None = None) -> None:
        self.mangle = mangle
        self.attempts: Counter[tuple[str, int, int]] = Counter()
        self.consent: dict[bytes, bytes | None] = {}

    @property
    def consent_entities(self) -> int:
        return len(self.consent)

    def startup(self) -> list[OutputRecord]:
        return []

    def process(self, batch: Sequence[SourceRecord], *, now: float) -> Outcome:
        outcome = Outcome(outputs=[])
        for record in batch:
            key = (record.topic, record.partition, record.offset)
            self.attempts[key] += 1
            if record.value == b"bad":
                outcome.outputs.append(
                    OutputRecord(
                        "deadletter", record.key, record.value, src_headers(record, "deadletter")
                    )
                )
                outcome.decisions["deadletter"] += 1
                outcome.deadletter_reasons["not_json"] += 1
                continue
            value = record.value
            if self.mangle is not None:
                value = self.mangle(record, self.attempts[key]) or value
            outcome.outputs.append(
                OutputRecord("clean", record.key, value, src_headers(record, "allow"))
            )
            outcome.decisions["allow"] += 1
        return outcome

    def fallback(self, batch: Sequence[SourceRecord], *, now: float) -> Outcome:
        """What the real pipeline does when ``process`` raised: quarantine every record."""
        outcome = Outcome(outputs=[])
        for record in batch:
            outcome.outputs.append(
                OutputRecord("quarantine", record.key, record.value, src_headers(record, "block"))
            )
            outcome.decisions["block"] += 1
        return outcome

    def on_consent(self, message: SourceRecord) -> list[OutputRecord]:
        self.consent[message.key or b""] = message.value
        return []

    def on_manifest(self, message: SourceRecord) -> list[OutputRecord]:
        return []

    def poll_policy(self) -> None:
        return None

    def verdict_counts(self) -> Mapping[str, int]:
        return {"allow": 1}

    # No detectors: the stream protocol tests do not need them.
    proxy = None

    def on_panel(self, message: SourceRecord) -> list[OutputRecord]:
        return []

    def on_detector_state(self, message: SourceRecord) -> list[OutputRecord]:
        return []

    def maintain(self, now: float, *, closing: bool = False) -> Idle:
        return Idle()


@dataclass
class Idle:
    outputs: list[OutputRecord] = field(default_factory=list)
    report: None = None
