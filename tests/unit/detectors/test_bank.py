"""DetectorBank: ingest, decay, snapshots, merging instances, and the offline convenience."""

from __future__ import annotations

import math

import numpy as np
import pytest

from interceptor.detectors import (
    DEFAULT_SCHEMA,
    BankSnapshot,
    DetectorBank,
    ProxyFinding,
    assess_columns,
    row_folds,
    worst_status,
)

RACES = DEFAULT_SCHEMA.attributes[0].levels


def _traffic(n: int, seed: int) -> tuple[list[dict[str, object]], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    race = rng.integers(0, 6, n)
    joint = DEFAULT_SCHEMA.encode(
        {
            "race": [RACES[r] for r in race],
            "sex": rng.choice(["female", "male"], n).tolist(),
            "age_band": rng.choice(["18-24", "25-34", "35-44"], n).tolist(),
        }
    )
    rows: list[dict[str, object]] = [
        {
            "zip3": f"z{race[i] * 4 + rng.integers(0, 4)}",  # a proxy for race
            "spend": float(rng.lognormal()),  # independent
            "opted": bool(rng.integers(0, 2)),
            "visits": int(rng.integers(0, 9)),
        }
        for i in range(n)
    ]
    return rows, joint, row_folds(n, salt=seed)


def test_observe_flags_the_proxy_and_clears_the_rest() -> None:
    rows, joint, folds = _traffic(6_000, 1)
    bank = DetectorBank(DEFAULT_SCHEMA, reservoir_rows=0)
    for start in range(0, 6_000, 1_500):
        part = slice(start, start + 1_500)
        bank.observe("t", rows[part], joint[part], folds[part], now=100.0)
    assessment = bank.evaluate(100.0)
    readings = assessment.readings
    assert readings[("t", "zip3")].status == "proxy" and readings[("t", "zip3")].flagged
    for feature in ("spend", "opted", "visits"):
        assert not readings[("t", feature)].flagged
    score, flagged, status = readings[("t", "zip3")]  # unpacks like the policy's reading
    assert flagged and score > 0.5
    kinds = bank.kinds()
    assert kinds[("t", "zip3")] == "categorical" and kinds[("t", "visits")] == "numeric"
    assert bank.samples()[("t", "spend")] == 6_000


def test_a_feature_keeps_the_kind_it_was_first_seen_with() -> None:
    bank = DetectorBank(DEFAULT_SCHEMA, reservoir_rows=0)
    joint, folds = np.zeros(2, dtype=np.int64), np.zeros(2, dtype=np.int64)
    bank.observe("t", [{"x": None}, {"x": 3}], joint, folds, now=0.0)
    bank.observe("t", [{"x": "three"}, {"x": 4.5}], joint, folds, now=0.0)
    assert bank.kinds() == {("t", "x"): "numeric"}
    assert bank.tables()[("t", "x")].rows_seen == 4


def test_two_instances_merged_equal_one_instance() -> None:
    rows, joint, folds = _traffic(4_000, 2)
    one = DetectorBank(DEFAULT_SCHEMA, reservoir_rows=0)
    one.observe("t", rows, joint, folds, now=10.0)
    a = DetectorBank(DEFAULT_SCHEMA, reservoir_rows=0)
    b = DetectorBank(DEFAULT_SCHEMA, reservoir_rows=0)
    a.observe("t", rows[:1_300], joint[:1_300], folds[:1_300], now=10.0)
    b.observe("t", rows[1_300:], joint[1_300:], folds[1_300:], now=10.0)
    remote = BankSnapshot.from_bytes(b.snapshot(10.0, "b").to_bytes())
    assert a.evaluate(10.0, [remote]).findings == one.evaluate(10.0).findings


def test_snapshot_round_trip_and_restore() -> None:
    rows, joint, folds = _traffic(3_000, 3)
    bank = DetectorBank(DEFAULT_SCHEMA, half_life_s=600.0, reservoir_rows=1_000)
    bank.observe("t", rows, joint, folds, now=1_000.0)
    snapshot = bank.snapshot(1_000.0, "i-1")
    data = snapshot.to_bytes()
    back = BankSnapshot.from_bytes(data)
    assert (back.instance, back.time) == ("i-1", 1_000.0)
    assert back.tables.keys() == snapshot.tables.keys()
    assert all(back.tables[k] == snapshot.tables[k] for k in snapshot.tables)
    restarted = DetectorBank(DEFAULT_SCHEMA, half_life_s=600.0, reservoir_rows=1_000)
    restarted.restore(back)
    assert restarted.evaluate(1_600.0).findings == bank.evaluate(1_600.0).findings
    assert restarted.run_combination(1_600.0) == []  # rows are never part of a snapshot


@pytest.mark.parametrize("data", [b"", b"not a snapshot", b"PK\x03\x04broken"])
def test_unreadable_snapshots_are_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match="snapshot is not valid"):
        BankSnapshot.from_bytes(data)


def test_snapshot_never_holds_raw_values() -> None:
    bank = DetectorBank(DEFAULT_SCHEMA, reservoir_rows=10)
    secret = "user-4711-secret"
    bank.observe("t", [{"id": secret}], np.zeros(1, dtype=np.int64), np.zeros(1), now=0.0)
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(bank.snapshot(0.0, "x").to_bytes())) as archive:
        blob = b"".join(archive.read(name) for name in archive.namelist())
    assert secret.encode() not in blob


def test_remote_snapshots_age_with_the_half_life() -> None:
    rows, joint, folds = _traffic(2_000, 4)
    remote_bank = DetectorBank(DEFAULT_SCHEMA, half_life_s=100.0, reservoir_rows=0)
    remote_bank.observe("t", rows, joint, folds, now=0.0)
    snapshot = remote_bank.snapshot(0.0, "r")
    local = DetectorBank(DEFAULT_SCHEMA, half_life_s=100.0, reservoir_rows=0)
    merged = local.merged_tables(200.0, [snapshot])
    assert math.isclose(merged[("t", "spend")].n, 2_000 / 4)


def test_bank_decay_reaches_the_reference_effective_size() -> None:
    """lambda = 0.98 per 1,000-row batch for 300 batches: N_eff 98,539, not 49,883 or 300,000."""
    bank = DetectorBank(DEFAULT_SCHEMA, half_life_s=math.log(2) / -math.log(0.98), reservoir_rows=0)
    rng = np.random.default_rng(5)
    for second in range(300):
        joint = rng.integers(0, DEFAULT_SCHEMA.joint_size, 1_000)
        columns = {"x": rng.integers(0, 10, 1_000)}
        bank.observe_columns("t", columns, joint, rng.integers(0, 2, 1_000), now=float(second))
    assert math.isclose(bank.samples()[("t", "x")], 98_539, rel_tol=0.01)
    table = bank.tables()[("t", "x")]
    assert math.isclose(table.n, 49_883, rel_tol=0.01)


def test_assess_columns_one_shot() -> None:
    rng = np.random.default_rng(6)
    n = 8_000
    group = rng.choice(["a", "b", "c"], n)
    columns = {
        "proxy": np.char.add(group, rng.choice(["1", "2"], n)),
        "noise": rng.normal(size=n),
    }
    assessment = assess_columns(columns, {"group": group, "other": rng.choice(["x", "y"], n)})
    assert assessment.readings[("file", "proxy")].status == "proxy"
    assert not assessment.readings[("file", "noise")].flagged
    attributes = {f.attribute for f in assessment.findings}
    assert attributes == {"group", "other", "joint"}


def _finding(status: str, score: float) -> ProxyFinding:
    return ProxyFinding(
        "t",
        "f",
        "a",
        score,
        score,
        score,
        1.0,
        1.0,
        1_000,
        0.0,
        0.0,
        "g",
        None,
        status,
        status in ("review", "proxy"),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["clear", "clear"], "clear"),
        (["clear", "insufficient_support"], "insufficient_support"),
        (["insufficient_support", "review"], "review"),
        (["review", "proxy", "clear"], "proxy"),
    ],
)
def test_worst_status(statuses: list[str], expected: str) -> None:
    reading = worst_status([_finding(s, i / 10) for i, s in enumerate(statuses)])
    assert reading.status == expected
    assert reading.flagged == (expected in ("review", "proxy"))
    assert reading.score == (len(statuses) - 1) / 10
    assert worst_status([]).status == "insufficient_support"
