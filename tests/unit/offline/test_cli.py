from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from interceptor.cli import main
from interceptor.offline.example import write_panel


@pytest.fixture(scope="module")
def panel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_panel(tmp_path_factory.mktemp("cli") / "panel.csv", 3_000)


def _audit(*args: str) -> int:
    return main(["audit", *args, "--no-combination", "--no-progress"])


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    assert lines[0].startswith("error: ")
    return lines[0]


def test_scan_prints_the_findings_and_writes_both_reports(
    panel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    json_path, html_path = tmp_path / "a.json", tmp_path / "a.html"
    status = _audit(
        str(panel), "--protected", "race,sex", "--protected", "age_band", "--entity", "user_id",
        "--json", str(json_path), "--html", str(html_path),
    )  # fmt: skip
    assert status == 0
    out = capsys.readouterr().out
    assert "zip3" in out and "proxy" in out
    assert out.index("zip3") < out.index("page_category")  # flagged first
    assert "3 feature(s) flagged" in out
    document = orjson.loads(json_path.read_bytes())
    assert {p["feature"] for p in document["proxies"] if p["flagged"]} == {
        "zip3",
        "first_name_cluster",
        "household_income_k",
    }
    assert "<!DOCTYPE html>" in html_path.read_text(encoding="utf-8")


def test_fail_on_proxy_exits_1_only_when_something_is_flagged(
    panel: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = [str(panel), "--protected", "race", "--fail-on-proxy"]
    assert _audit(*base, "--features", "zip3,page_category") == 1
    assert _audit(*base, "--features", "page_category,device_os") == 0
    assert _audit(str(panel), "--protected", "race", "--features", "zip3") == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.csv", "--protected", "race"], "missing.csv: no such file"),
        (["{panel}", "--protected", "religion"], 'no column "religion"'),
        (["{panel}", "--protected", "race", "--features", "zip9"], 'no column "zip9"'),
        (["{panel}", "--protected", "user_id"], '"user_id" has more than 64 distinct values'),
        (["{panel}", "--protected", "race", "--json", "/nonexistent/a.json"], "does not exist"),
        (["{bad}", "--protected", "race"], "cannot read as parquet"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    panel: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 but not really")
    filled = [a.format(panel=panel, bad=bad) for a in args]
    assert _audit(*filled) == 2
    assert message in _one_error_line(capsys)


def test_argument_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["audit", "data.csv"])
    assert exit_info.value.code == 2
    assert "--protected" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["audit", "data.csv", "--protected", "race,,sex"])
    assert exit_info.value.code == 2
