"""Acceptance tests 5, 6 and 8: combinations, ID-like features, high cardinality, batch scale."""

from __future__ import annotations

import math

import numpy as np
import pytest

from interceptor.detectors.assess import assess
from interceptor.detectors.bank import DetectorBank
from interceptor.detectors.combination import combination_probe
from interceptor.detectors.encoding import group_categorical, hash_buckets
from interceptor.detectors.estimators import summarize
from interceptor.detectors.offline import row_folds
from interceptor.detectors.protected import DEFAULT_SCHEMA, ProtectedSchema
from interceptor.detectors.table import FeatureTable

XOR_SCHEMA = ProtectedSchema.from_mapping({"s": ["0", "1"]})


@pytest.fixture(scope="module")
def xor_rows() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(51)
    n = 20_000
    x1, x2 = rng.integers(0, 2, n), rng.integers(0, 2, n)
    s = (x1 ^ x2) ^ (rng.random(n) < 0.1)
    return x1, x2, s.astype(np.int64)


def test_5_xor_features_alone_are_not_flagged(xor_rows: tuple) -> None:
    x1, x2, s = xor_rows
    bank = DetectorBank(XOR_SCHEMA, reservoir_rows=0)
    columns = {"x1": x1.astype(bool), "x2": x2.astype(bool)}
    bank.observe_columns("t", columns, s, row_folds(len(s)), now=0.0)
    findings = bank.evaluate(0.0).findings
    assert [f.feature for f in findings] == ["x1", "x2"]
    for finding in findings:
        assert finding.method == "g"
        assert finding.p_raw > 0.05
        assert abs(finding.mi) < 0.001
        assert not finding.flagged


def test_5_xor_pair_carries_the_information(xor_rows: tuple) -> None:
    x1, x2, s = xor_rows
    pair = FeatureTable("categorical", XOR_SCHEMA.joint_size)
    pair.add(x1 * 2 + x2, s, row_folds(len(s)))
    (finding,) = assess({("t", "x1,x2"): pair}, XOR_SCHEMA)
    assert finding.mi >= 0.33
    assert finding.status == "proxy"
    # Conditional MI I(X2; S | X1) from the same counts.
    counts = np.zeros((2, 2, 2))
    np.add.at(counts, (x1, x2, s), 1)
    weights = counts.sum(axis=(1, 2)) / counts.sum()
    cmi = sum(w * summarize(counts[a]).miller_madow for a, w in enumerate(weights))
    assert cmi >= 0.33


def test_5_xor_combination_probe_flags_the_pair(xor_rows: tuple) -> None:
    x1, x2, s = xor_rows
    result = combination_probe(np.stack([x1, x2], axis=1), s, folds=5, seed=0, attribute="s")
    assert result.ber <= 0.12
    assert result.auc >= 0.88
    assert 0.30 <= result.predictive_information <= 0.3681 + 0.02
    assert result.flagged


def test_5_xor_probe_through_the_bank(xor_rows: tuple) -> None:
    x1, x2, s = xor_rows
    bank = DetectorBank(XOR_SCHEMA, reservoir_rows=20_000)
    rows = [{"x1": bool(a), "x2": bool(b)} for a, b in zip(x1.tolist(), x2.tolist(), strict=True)]
    bank.observe("t", rows, s, row_folds(len(s)), now=0.0)
    (result,) = bank.run_combination(0.0)
    assert (result.transformation, result.attribute, result.features) == ("t", "s", ("x1", "x2"))
    assert result.flagged
    assert bank.evaluate(0.0).combinations == [result]


# ----------------------------------------------------------------------------- ID-like features


def _panel(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    joint = rng.integers(0, DEFAULT_SCHEMA.joint_size, n)
    return joint, row_folds(n)


@pytest.mark.parametrize(("distinct", "seed"), [(100_000, 61), (10_000, 62)])
def test_6_id_like_features_are_never_flagged(distinct: int, seed: int) -> None:
    n = 100_000
    joint, folds = _panel(n, seed)
    rng = np.random.default_rng(seed + 1000)  # a stream of its own: independent of the panel
    values = rng.permutation(n) if distinct == n else rng.integers(0, distinct, n)
    ids = np.array([f"user-{v}" for v in values.tolist()])
    bank = DetectorBank(DEFAULT_SCHEMA, reservoir_rows=0)
    bank.observe_columns("t", {"id": ids}, joint, folds, now=0.0)
    assessment = bank.evaluate(0.0)
    assert len(assessment.findings) == 4
    for finding in assessment.findings:
        assert not finding.flagged
        assert finding.status == "insufficient_support" or (
            finding.predictive_information is not None and finding.predictive_information <= 0.01
        )
    assert not assessment.readings[("t", "id")].flagged
    # The trap the guard exists for: on the raw keys, Miller-Madow sees a strong "proxy".
    table = bank.tables()[("t", "id")]
    keys, _ = table.key_totals()
    w, _ = table.grouped(np.arange(len(keys)), len(keys))
    race = summarize(DEFAULT_SCHEMA.marginal(w, 0).sum(axis=1))
    assert race.miller_madow > (0.5 if distinct == n else 0.05)


@pytest.fixture(scope="module")
def zipf_sample() -> tuple[FeatureTable, float]:
    """K = 1e5 values with Zipf(1.1) frequencies; S (5 classes) driven by 20 latent groups."""
    rng = np.random.default_rng(63)
    k, n = 100_000, 1_000_000
    p_value = (np.arange(k) + 1.0) ** -1.1
    p_value /= p_value.sum()
    group = rng.integers(0, 20, k)
    p_s_given_g = rng.dirichlet(np.full(5, 0.3), size=20)
    p_g = np.bincount(group, weights=p_value, minlength=20)
    truth = summarize(p_g[:, None] * p_s_given_g).plugin  # I(X;S) = I(G;S)
    values = np.searchsorted(np.cumsum(p_value), rng.random(n) * 1.0, side="right")
    values = np.minimum(values, k - 1)
    cdf = np.cumsum(p_s_given_g, axis=1)
    s = (rng.random(n)[:, None] > cdf[group[values]]).sum(axis=1)
    table = FeatureTable("categorical", 5)
    table.add(values, s, np.zeros(n, dtype=np.int64))
    return table, truth


def _coarse(table: FeatureTable, rows_of_key: np.ndarray, rows: int) -> object:
    w, _ = table.grouped(rows_of_key, rows)
    return summarize(w.sum(axis=1))


@pytest.mark.parametrize("buckets", [256, 1024, 4096])
def test_6_coarsening_never_exceeds_the_full_information(zipf_sample: tuple, buckets: int) -> None:
    table, truth = zipf_sample
    keys, totals = table.key_totals()
    top = _coarse(table, *group_categorical(keys, totals, buckets - 1))
    hashed = _coarse(table, hash_buckets(keys, buckets), buckets)
    for summary in (top, hashed):
        assert summary.miller_madow <= truth + 3 * summary.se  # type: ignore[attr-defined]


def test_6_top_k_keeps_more_than_hashing(zipf_sample: tuple) -> None:
    table, truth = zipf_sample
    keys, totals = table.key_totals()
    top = _coarse(table, *group_categorical(keys, totals, 1023)).miller_madow  # type: ignore[attr-defined]
    hashed = _coarse(table, hash_buckets(keys, 1024), 1024).miller_madow  # type: ignore[attr-defined]
    assert top / truth >= 0.60
    assert top > hashed


# ----------------------------------------------------------------------------- batch scale


def test_8_two_hundred_features_against_the_joint_code() -> None:
    """The functional half of the throughput budget (timing lives in bench/detectors.py)."""
    rng = np.random.default_rng(81)
    n = 5_000
    joint = rng.integers(0, DEFAULT_SCHEMA.joint_size, n)
    folds = row_folds(n)
    tables: dict[tuple[str, str], FeatureTable] = {}
    for f in range(200):
        table = FeatureTable("categorical" if f % 2 else "numeric", DEFAULT_SCHEMA.joint_size)
        table.add(rng.integers(0, 50, n), joint, folds)
        tables[("t", f"f{f:03d}")] = table
    findings = assess(tables, DEFAULT_SCHEMA)
    assert len(findings) == 200 * 4
    assert all(not f.flagged for f in findings)
    assert all(math.isfinite(f.score) for f in findings)
    categorical = [t for t in tables.values() if t.kind == "categorical"]
    total = sum(categorical, FeatureTable("categorical", DEFAULT_SCHEMA.joint_size))
    assert total.rows_seen == 100 * n
