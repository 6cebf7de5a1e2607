"""Feature rewrites for ``transform`` actions, applied to all affected values of a feature at once.

A transform that cannot rewrite a value (a coordinate that is neither a number nor a geohash, a
string handed to numeric bins) reports it as failed and the engine redacts it instead: letting the
original value through would defeat the rule that asked for the rewrite.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Final, TypeAlias

import numpy as np

from interceptor.policy.geo import is_geohash
from interceptor.policy.models import CoarsenGeo, Generalize, HashValue, Transform
from interceptor.scalars import Scalar

__all__ = ["Rewritten", "apply_transform", "bin_labels", "hash_key_material"]

Rewritten: TypeAlias = tuple[list[Scalar], list[bool]]
"""New values, and per value whether the rewrite failed (the value must be redacted)."""

_BLAKE2B_MAX_KEY: Final = 64


def _is_number(value: Scalar) -> bool:
    return type(value) is int or type(value) is float


def _rewrite(values: Sequence[Scalar], one: Callable[[Scalar], Scalar | None]) -> Rewritten:
    out: list[Scalar] = []
    failed: list[bool] = []
    for value in values:
        new = one(value)
        out.append(new)
        failed.append(new is None and value is not None)
    return out, failed


def _coarsen_geo(spec: CoarsenGeo, values: Sequence[Scalar]) -> Rewritten:
    numeric = [i for i, v in enumerate(values) if _is_number(v)]
    rounded = np.round(np.array([values[i] for i in numeric], dtype=np.float64), spec.decimals)
    by_index = dict(zip(numeric, rounded.tolist(), strict=True))

    def one(value: Scalar) -> Scalar | None:
        if isinstance(value, str) and is_geohash(value):
            return value[: spec.geohash]
        return None

    out, failed = _rewrite(values, one)
    for i, value in by_index.items():
        out[i], failed[i] = value, False
    return out, failed


def bin_labels(bins: Sequence[int | float]) -> list[str]:
    """Labels for values below, between and above the edges: ``<0``, ``25-34``, ``65+``.

    Integer edges give inclusive integer ranges; other edges give half-open ``lo-hi``.
    """
    integral = all(isinstance(b, int) for b in bins)
    edges = zip(bins, bins[1:], strict=False)
    inner = [f"{lo}-{hi - 1}" if integral else f"{lo}-{hi}" for lo, hi in edges]
    return [f"<{bins[0]}", *inner, f"{bins[-1]}+"]


def _generalize(spec: Generalize, values: Sequence[Scalar]) -> Rewritten:
    if spec.keep_chars is not None:
        keep = spec.keep_chars

        def prefix(value: Scalar) -> Scalar | None:
            if isinstance(value, str) or type(value) is int:
                return str(value)[:keep]
            return None

        return _rewrite(values, prefix)
    assert spec.bins is not None
    labels = bin_labels(spec.bins)
    numeric = [i for i, v in enumerate(values) if _is_number(v)]
    numbers = np.array([values[i] for i in numeric], dtype=np.float64)
    slots = np.searchsorted(np.array(spec.bins, dtype=np.float64), numbers, side="right")
    out, failed = _rewrite(values, lambda value: None)
    for i, slot in zip(numeric, slots.tolist(), strict=True):
        out[i], failed[i] = labels[slot], False
    return out, failed


def hash_key_material(key: bytes) -> bytes:
    """BLAKE2b takes keys up to 64 bytes; longer secrets are condensed to 64 bytes first."""
    if len(key) <= _BLAKE2B_MAX_KEY:
        return key
    return hashlib.blake2b(key, digest_size=_BLAKE2B_MAX_KEY).digest()


def _hash(spec: HashValue, values: Sequence[Scalar], key: bytes) -> Rewritten:
    material = hash_key_material(key)

    def digest(value: Scalar) -> Scalar | None:
        if value is None:
            return None
        text = str(value).encode("utf-8")
        return hashlib.blake2b(text, key=material, digest_size=spec.digest_bytes).hexdigest()

    return _rewrite(values, digest)


def apply_transform(spec: Transform, values: Sequence[Scalar], *, key: bytes = b"") -> Rewritten:
    """Rewrite ``values`` of one feature as ``spec`` says; null stays null."""
    if isinstance(spec, CoarsenGeo):
        return _coarsen_geo(spec, values)
    if isinstance(spec, Generalize):
        return _generalize(spec, values)
    return _hash(spec, values, key)
