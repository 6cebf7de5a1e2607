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
from interceptor.scalars import Scalar

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


def _signature_hits(signature: int, hits: Sequence[RuleHit]) -> tuple[RuleHit, ...]:
    return tuple(hit for i, hit in enumerate(hits) if signature >> i & 1) or _NO_HITS


def _per_record_hits(kept: Sequence[Match], n: int) -> list[tuple[RuleHit, ...]]:
    """Each record's hits, sorted by rule id and feature.

    Records mostly share a few combinations of hits, so each record gets a bit signature of its
    hits (64 per word); every distinct signature builds its tuple once and records share it.
    """
    if not kept:
        return [_NO_HITS] * n
    hits = sorted({m.rule.hit(m.feature) for m in kept}, key=lambda h: (h.rule_id, h.feature or ""))
    bit = {hit: i for i, hit in enumerate(hits)}
    words = np.zeros(((len(hits) + 63) // 64, n), dtype=np.uint64)
    for match in kept:
        i = bit[match.rule.hit(match.feature)]
        words[i // 64][match.rows] |= np.uint64(1 << (i % 64))
    keys = (
        words[0]
        if len(words) == 1
        else np.ascontiguousarray(words.T).view(np.dtype((np.void, 8 * len(words)))).ravel()
    )
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    combos = [
        _signature_hits(sum(w << (64 * j) for j, w in enumerate(column)), hits)
        for column in words[:, first].T.tolist()
    ]
    return [combos[j] for j in inverse.ravel().tolist()]


class _Replacements:
    """Shares one edit per distinct new value (coarsened values repeat a lot)."""

    def __init__(self) -> None:
        self._edits: dict[tuple[str, type, Scalar], FeatureEdit] = {}

    def __call__(self, feature: str, value: Scalar) -> FeatureEdit:
        key = (feature, type(value), value)  # the type keeps 1, 1.0 and True apart
        edit = self._edits.get(key)
        if edit is None:
            edit = self._edits[key] = FeatureEdit(feature, "replace", value)
        return edit


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
    out = [_NO_EDITS] * batch.n
    if not by_feature:
        return out
    buckets: dict[int, list[FeatureEdit]] = defaultdict(list)
    replacement = _Replacements()
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
                buckets[row].append(redact if bad else replacement(name, value))
        for rows_done in touched:
            claimed[rows_done] = False
    for row, edits in buckets.items():
        out[row] = tuple(edits)
    return out


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
