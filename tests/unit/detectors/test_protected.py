"""The joint protected code: mixed-radix encoding, unknown levels, marginals and the known cells."""

from __future__ import annotations

import numpy as np
import pytest

from interceptor.detectors.protected import DEFAULT_SCHEMA, ProtectedAttribute, ProtectedSchema


def test_default_schema_shape() -> None:
    assert DEFAULT_SCHEMA.names == ("race", "sex", "age_band")
    assert DEFAULT_SCHEMA.shape == (7, 4, 8)
    assert DEFAULT_SCHEMA.joint_size == 224
    assert DEFAULT_SCHEMA.known_joint_size == 126


def test_encode_is_mixed_radix_and_unknowns_get_the_last_code() -> None:
    columns = {
        "race": ["white", "asian", "martian", None],
        "sex": ["male", "female", "male", "nonbinary"],
        "age_band": ["13-17", "65+", "18-24", None],
    }
    codes = DEFAULT_SCHEMA.encode(columns)
    expected = [
        np.ravel_multi_index(c, (7, 4, 8)) for c in [(0, 1, 0), (3, 0, 6), (6, 1, 1), (6, 2, 7)]
    ]
    assert codes.tolist() == expected
    for i in range(4):
        row = {name: column[i] for name, column in columns.items()}
        assert DEFAULT_SCHEMA.encode_one(row) == expected[i]
    race, sex, age = DEFAULT_SCHEMA.decode(codes)
    assert race.tolist() == [0, 3, 6, 6]


def test_missing_column_is_unknown_and_other_types_match_by_text() -> None:
    schema = ProtectedSchema.from_mapping({"flag": ["True", "False"], "g": ["a"]})
    codes = schema.encode({"flag": [True, "False", 1, None]})
    unknown_g = 1
    assert codes.tolist() == [c * 2 + unknown_g for c in (0, 1, 2, 2)]


def test_marginals_drop_unknown_and_known_keeps_complete_rows() -> None:
    rng = np.random.default_rng(0)
    counts = rng.random((3, DEFAULT_SCHEMA.joint_size))
    full = counts.reshape(3, 7, 4, 8)
    np.testing.assert_allclose(DEFAULT_SCHEMA.marginal(counts, 0), full.sum(axis=(2, 3))[:, :6])
    np.testing.assert_allclose(DEFAULT_SCHEMA.marginal(counts, 2), full.sum(axis=(1, 2))[:, :7])
    known = DEFAULT_SCHEMA.known(counts)
    assert known.shape == (3, 126)
    np.testing.assert_allclose(known, full[:, :6, :3, :7].reshape(3, 126))


def test_schema_validation() -> None:
    with pytest.raises(ValueError, match="twice"):
        ProtectedSchema((ProtectedAttribute("a", ("x",)), ProtectedAttribute("a", ("y",))))
    with pytest.raises(ValueError, match="at least one level"):
        ProtectedAttribute("a", ())
    with pytest.raises(ValueError, match="joint"):
        ProtectedAttribute("joint", ("x",))
