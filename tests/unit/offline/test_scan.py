from __future__ import annotations

from pathlib import Path

import pytest

from interceptor.offline import reader
from interceptor.offline.example import DECOYS, PLANTED, PROTECTED, XOR_PAIR, write_panel
from interceptor.offline.result import AuditResult
from interceptor.offline.scan import AuditOptions, scan_file

ROWS = 4_000


@pytest.fixture(scope="module")
def panel_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_panel(tmp_path_factory.mktemp("scan") / "panel.csv", ROWS)


def _scan(path: Path, **options: object) -> AuditResult:
    return scan_file(
        AuditOptions(path=path, protected=PROTECTED, entity="user_id", combination=False, **options)  # type: ignore[arg-type]
    )


def _statuses(result: AuditResult) -> dict[tuple[str, str], str]:
    return {(p.feature, p.attribute): p.status for p in result.proxies}


def test_planted_proxies_are_flagged_and_decoys_are_not(panel_csv: Path) -> None:
    result = _scan(panel_csv)
    assert result.rows == ROWS
    statuses = _statuses(result)
    for feature, attribute in PLANTED.items():
        assert statuses[(feature, attribute)] == "proxy", feature
    flagged = set(result.flagged_features)
    assert flagged == set(PLANTED)
    assert flagged.isdisjoint(DECOYS) and flagged.isdisjoint(XOR_PAIR)
    assert {statuses[("device_id", a)] for a in PROTECTED} == {"insufficient_support"}


def test_every_feature_gets_every_attribute_and_the_joint_code(panel_csv: Path) -> None:
    result = _scan(panel_csv)
    assert "user_id" not in result.features
    assert len(result.proxies) == len(result.features) * (len(PROTECTED) + 1)
    attributes = {p.attribute for p in result.proxies}
    assert attributes == {*PROTECTED, "joint"}


def test_small_batches_give_the_same_findings(
    panel_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _scan(panel_csv)
    monkeypatch.setattr(reader, "CSV_BLOCK_BYTES", 16 * 1024)
    batched = _scan(panel_csv)
    assert batched.rows == whole.rows
    assert [(p.feature, p.attribute, p.status, round(p.score, 12)) for p in batched.proxies] == [
        (p.feature, p.attribute, p.status, round(p.score, 12)) for p in whole.proxies
    ]


def test_parquet_gives_the_findings_of_csv(panel_csv: Path, tmp_path: Path) -> None:
    parquet = write_panel(tmp_path / "panel.parquet", ROWS)
    from_csv = _statuses(_scan(panel_csv))
    from_parquet = _statuses(_scan(parquet))
    assert from_parquet == from_csv


def test_integer_codes_can_be_declared_categorical(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    write_panel(path, 2_000)
    result = _scan(path, categorical=("night_owl",))
    kinds = {p.feature: p.feature_kind for p in result.proxies}
    assert kinds["night_owl"] == "categorical"
    assert kinds["weekend_heavy"] == "numeric"
