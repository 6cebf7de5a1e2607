"""Deciding a single record through the batch path, for explanations and policy tests.

There is one evaluation path: a single record becomes a batch of one, so what ``explain`` and
``policy test`` report is exactly what the stream would do with that record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from interceptor.consent import ConsentColumns, ConsentState
from interceptor.manifests import Manifest
from interceptor.policy.batch import BatchInput, FeatureEdit, ProxyReading
from interceptor.records import FeatureRecord
from interceptor.scalars import Scalar

__all__ = ["apply_edits", "batch_of_one"]


def batch_of_one(
    manifest: Manifest,
    record: FeatureRecord,
    consent: ConsentState | None,
    *,
    now: float,
    proxy: Mapping[str, ProxyReading] | None = None,
) -> BatchInput:
    """A batch holding ``record`` alone; ``proxy`` is keyed by feature name."""
    readings = {(manifest.id, name): reading for name, reading in (proxy or {}).items()}
    return BatchInput(
        manifests=[manifest],
        manifest_index=np.zeros(1, dtype=np.int32),
        entity_id=[record.entity_id],
        event_time=np.array([record.event_epoch()], dtype=np.float64),
        now=now,
        features=[record.features],
        context=[record.context],
        consent=ConsentColumns.from_states([consent]),
        proxy=readings,
    )


def apply_edits(features: Mapping[str, Scalar], edits: Sequence[FeatureEdit]) -> dict[str, Scalar]:
    """The features as they leave: redacted ones removed, replaced ones rewritten."""
    out = dict(features)
    for edit in edits:
        if edit.op == "redact":
            out.pop(edit.feature, None)
        else:
            out[edit.feature] = edit.value
    return out
