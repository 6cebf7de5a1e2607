"""Feature rewrites (coarsen_geo, generalize, hash); values they cannot rewrite get redacted."""

from __future__ import annotations

import hashlib

import pytest

from interceptor.policy.models import CoarsenGeo, Generalize, HashValue
from interceptor.policy.transforms import apply_transform, bin_labels, hash_key_material


def test_coarsen_geo_rounds_numbers_and_cuts_geohashes() -> None:
    spec = CoarsenGeo(transform="coarsen_geo", decimals=1, geohash=5)
    values, failed = apply_transform(spec, [37.77493, -122.41942, 38, "9q8yyk2", "9q8", None])
    assert values[:3] == [37.8, -122.4, 38]
    assert values[3:] == ["9q8yy", "9q8", None]
    assert failed == [False] * 6


@pytest.mark.parametrize("value", [True, "not a geohash!", "37.7749"])
def test_coarsen_geo_fails_closed_on_unreadable_values(value: object) -> None:
    _, failed = apply_transform(CoarsenGeo(transform="coarsen_geo"), [value])  # type: ignore[list-item]
    assert failed == [True]


def test_generalize_bins_label_numbers() -> None:
    spec = Generalize(transform="generalize", bins=(0, 18, 25, 35, 45, 55, 65))
    values, failed = apply_transform(spec, [-1, 0, 17.9, 18, 25, 34, 64.5, 65, 99, None, "x"])
    assert values[:9] == ["<0", "0-17", "0-17", "18-24", "25-34", "25-34", "55-64", "65+", "65+"]
    assert values[9] is None
    assert failed == [False] * 10 + [True]


def test_fractional_bins_label_half_open_ranges() -> None:
    assert bin_labels([0, 0.5, 1]) == ["<0", "0-0.5", "0.5-1", "1+"]


def test_generalize_keep_chars_keeps_a_prefix() -> None:
    spec = Generalize(transform="generalize", keep_chars=3)
    values, failed = apply_transform(spec, ["94103", 94103, "94", 1.5, False])
    assert values[:3] == ["941", "941", "94"]
    assert failed == [False, False, False, True, True]


@pytest.mark.parametrize(
    "fields",
    [{}, {"bins": (1, 2), "keep_chars": 3}, {"bins": (5, 5)}, {"bins": (3, 1)}, {"bins": ()}],
)
def test_generalize_needs_exactly_one_valid_method(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="generalize takes|bins must"):
        Generalize.model_validate({"transform": "generalize", **fields})


def test_hash_is_keyed_blake2b_of_the_text() -> None:
    spec = HashValue(transform="hash")
    values, failed = apply_transform(spec, ["u-1", 42, None], key=b"secret")
    expected = hashlib.blake2b(b"u-1", key=b"secret", digest_size=16).hexdigest()
    assert values[0] == expected
    assert values[1] == hashlib.blake2b(b"42", key=b"secret", digest_size=16).hexdigest()
    assert values[2] is None and failed == [False, False, False]
    other, _ = apply_transform(spec, ["u-1"], key=b"other")
    assert other[0] != expected


def test_long_hash_keys_are_condensed_not_rejected() -> None:
    key = b"k" * 100
    assert len(hash_key_material(key)) == 64
    assert hash_key_material(b"short") == b"short"
    values, _ = apply_transform(HashValue(transform="hash", digest_bytes=32), ["x"], key=key)
    assert isinstance(values[0], str) and len(values[0]) == 64
