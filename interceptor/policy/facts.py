"""What is known before a record arrives: facts about a transformation and about one feature.

Static subjects read these facts; the engine computes them once per manifest (and feature name)
and reuses them for every record and every batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Final

from interceptor.manifests import Manifest
from interceptor.policy.batch import ProxyReading
from interceptor.policy.subjects import Subject
from interceptor.policy.vocabulary import Vocabulary, undisclosed_categories

__all__ = [
    "UNKNOWN",
    "FeatureFacts",
    "TransformationFacts",
    "Unknown",
    "proxy_value",
    "static_value",
]


class Unknown(Enum):
    """A fact that is not known yet (e.g. the name of some undeclared feature)."""

    UNKNOWN = "unknown"


UNKNOWN: Final = Unknown.UNKNOWN


@dataclass(frozen=True, slots=True)
class TransformationFacts:
    """The ``transformation.*`` subjects of one manifest."""

    manifest: Manifest
    undisclosed_categories: frozenset[str]

    @classmethod
    def of(cls, manifest: Manifest, vocabulary: Vocabulary) -> TransformationFacts:
        return cls(manifest, undisclosed_categories(manifest, vocabulary))

    def value(self, attribute: str) -> object:
        m = self.manifest
        values: dict[str, object] = {
            "id": m.id,
            "version": m.version,
            "purpose": m.purpose,
            "owner": m.owner,
            "input_categories": m.input_categories,
            "output_categories": m.output_categories,
            "undisclosed_categories": self.undisclosed_categories,
        }
        return values[attribute]


@dataclass(frozen=True, slots=True)
class FeatureFacts:
    """The static ``feature.*`` subjects: an undeclared feature has no type and no categories."""

    name: str | Unknown
    type: str | None
    categories: frozenset[str]
    declared: bool

    @classmethod
    def of(cls, manifest: Manifest, name: str | Unknown) -> FeatureFacts:
        output = manifest.output_by_name.get(name) if isinstance(name, str) else None
        if output is None:
            return cls(name, None, frozenset(), False)
        return cls(name, output.type, manifest.feature_categories(output.name), True)

    def value(self, attribute: str) -> object:
        values: dict[str, object] = {
            "name": self.name,
            "type": self.type,
            "categories": self.categories,
            "declared": self.declared,
        }
        return values[attribute]


def static_value(
    subject: Subject, transformation: TransformationFacts, feature: FeatureFacts | None
) -> object:
    """The value of a static subject, or :data:`UNKNOWN` when it is not known here."""
    namespace, _, attribute = subject.path.partition(".")
    if namespace == "transformation":
        return transformation.value(attribute)
    if namespace == "feature" and feature is not None:
        return feature.value(attribute)
    return UNKNOWN


def proxy_value(subject: Subject, reading: ProxyReading | None) -> object:
    """``feature.proxy.*``: with no reading, score null, not flagged, insufficient support."""
    attribute = subject.path.rsplit(".", 1)[1]
    if reading is None:
        return {"score": None, "flagged": False, "status": "insufficient_support"}[attribute]
    score = reading.score if math.isfinite(reading.score) else None
    return {"score": score, "flagged": reading.flagged, "status": reading.status}[attribute]
