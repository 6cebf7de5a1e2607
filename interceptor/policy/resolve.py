"""From rule matches to decisions: exemptions first, then the most restrictive action wins.

- An ``allow`` rule with ``exempts: [X, ...]`` that holds on a record removes X's hits on that
  record (all of X's features, for a feature-scope X).
- The record's action is the maximum over its surviving hits: block > redact > transform > flag >
  allow. A feature-scope ``block`` or ``flag`` therefore blocks or flags the whole record.
- Per feature, redact beats transform, and of two transforms the one from the rule with the
  smallest id applies.

Nothing here depends on the order rules were written in: matches are sorted by (rule id, feature).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from interceptor.policy.batch import ActionCode, BatchDecision, BatchInput, FeatureEdit, RuleHit
from interceptor.policy.columns import BoolArray
from interceptor.policy.compiled import Match
from interceptor.policy.models import Transform
from interceptor.policy.transforms import apply_transform

__all__ = ["apply_exemptions", "resolve"]

_NO_HITS: tuple[RuleHit, ...] = ()
_NO_EDITS: tuple[FeatureEdit, ...] = ()


def apply_exemptions(matches: Sequence[Match], n: int) -> tuple[list[Match], list[Match]]:
    """Split matches into what survives and what was exempted, both sorted by rule and feature."""
    exempt: dict[str, BoolArray] = {}
    for match in matches:
        for target in match.rule.rule.exempts:
            mask = exempt.setdefault(target, np.zeros(n, dtype=np.bool_))
            mask[match.rows] = True
    kept: list[Match] = []
    removed: list[Match] = []
    for match in sorted(matches, key=lambda m: m.sort_key):
        exempted = exempt.get(match.rule.id)
        if exempted is None:
            kept.append(match)
            continue
        gone = exempted[match.rows]
        if not gone.all():
            kept.append(Match(match.rule, match.rows[~gone], match.feature))
        if gone.any():
            removed.append(Match(match.rule, match.rows[gone], match.feature))
    return kept, removed


def _per_record_hits(kept: Sequence[Match], n: int) -> list[tuple[RuleHit, ...]]:
    buckets: list[list[RuleHit] | None] = [None] * n
    for match in kept:  # sorted, so every record's hits come out sorted too
        hit = match.rule.hit(match.feature)
        for row in match.rows.tolist():
            bucket = buckets[row]
            if bucket is None:
                buckets[row] = [hit]
            else:
                bucket.append(hit)
    return [tuple(bucket) if bucket else _NO_HITS for bucket in buckets]


def _per_record_edits(
    kept: Sequence[Match], batch: BatchInput, key: bytes
) -> list[tuple[FeatureEdit, ...]]:
    by_feature: dict[str, list[Match]] = defaultdict(list)
    for match in kept:
        if match.feature is not None and match.rule.code in (
            ActionCode.REDACT,
            ActionCode.TRANSFORM,
        ):
            by_feature[match.feature].append(match)
    buckets: list[list[FeatureEdit]] = [[] for _ in range(batch.n)] if by_feature else []
    claimed = np.zeros(batch.n, dtype=np.bool_)
    for name in sorted(by_feature):
        redact = FeatureEdit(name, "redact")
        # Redactions first, then transforms by rule id: the first claim on a record wins.
        ordered = sorted(
            by_feature[name], key=lambda m: (m.rule.code != ActionCode.REDACT, m.rule.id)
        )
        touched = []
        for match in ordered:
            fresh = match.rows[~claimed[match.rows]]
            if not fresh.size:
                continue
            claimed[fresh] = True
            touched.append(fresh)
            rows = fresh.tolist()
            action = match.rule.rule.action
            if isinstance(action, str):
                for row in rows:
                    buckets[row].append(redact)
                continue
            spec: Transform = action
            values = [batch.features[row].get(name) for row in rows]
            new, failed = apply_transform(spec, values, key=key)
            for row, value, bad in zip(rows, new, failed, strict=True):
                buckets[row].append(redact if bad else FeatureEdit(name, "replace", value))
        for rows_done in touched:
            claimed[rows_done] = False
    if not buckets:
        return [_NO_EDITS] * batch.n
    return [tuple(bucket) if bucket else _NO_EDITS for bucket in buckets]


def resolve(matches: Sequence[Match], batch: BatchInput, *, hash_key: bytes = b"") -> BatchDecision:
    """The batch decision from every match of every rule."""
    kept, _ = apply_exemptions(matches, batch.n)
    action = np.zeros(batch.n, dtype=np.int8)
    for match in kept:
        rows = match.rows
        action[rows] = np.maximum(action[rows], np.int8(match.rule.code))
    return BatchDecision(
        action=action,
        hits=_per_record_hits(kept, batch.n),
        edits=_per_record_edits(kept, batch, hash_key),
    )
