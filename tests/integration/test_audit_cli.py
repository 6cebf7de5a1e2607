"""``interceptor audit`` as a user runs it: the installed command on generated files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from interceptor.offline.example import DECOYS, PLANTED, PROTECTED, XOR_PAIR, make_panel
from tests.conftest import REPO

INTERCEPTOR = Path(sys.executable).with_name("interceptor")
CONTRACT = {
    "feature",
    "attribute",
    "score",
    "ci_low",
    "ci_high",
    "p_value",
    "n",
    "status",
    "flagged",
}


def _audit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(INTERCEPTOR), "--log-level", "WARNING", "audit", *args, "--no-progress"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def panel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audit") / "panel.parquet"
    pq.write_table(pa.table(make_panel(4_000, seed=5)), str(path))
    return path


def test_planted_proxies_are_flagged_and_decoys_are_not(panel: Path, tmp_path: Path) -> None:
    json_path, html_path = tmp_path / "audit.json", tmp_path / "audit.html"
    completed = _audit(
        str(panel), "--protected", ",".join(PROTECTED), "--entity", "user_id",
        "--json", str(json_path), "--html", str(html_path), "--no-combination",
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "3 feature(s) flagged" in completed.stdout
    document = orjson.loads(json_path.read_bytes())
    assert document["rows"] == 4_000
    proxies = document["proxies"]
    assert proxies and all(set(p) >= CONTRACT for p in proxies)
    status = {(p["feature"], p["attribute"]): p["status"] for p in proxies}
    for feature, attribute in PLANTED.items():
        assert status[(feature, attribute)] == "proxy", feature
    flagged = {p["feature"] for p in proxies if p["flagged"]}
    assert flagged == set(PLANTED)
    assert flagged.isdisjoint({*DECOYS, *XOR_PAIR})
    assert {status[("device_id", a)] for a in PROTECTED} == {"insufficient_support"}
    page = html_path.read_text(encoding="utf-8")
    for feature in PLANTED:
        assert f'id="feature-{feature}"' in page


def test_the_xor_pair_is_caught_only_in_combination(tmp_path: Path) -> None:
    table = pa.table(make_panel(3_000, seed=5))
    table = table.filter(pc.is_in(table["sex"], pa.array(["female", "male"])))
    path = tmp_path / "xor.csv"
    pa_csv.write_csv(table, str(path))
    json_path = tmp_path / "xor.json"
    completed = _audit(
        str(path), "--protected", "sex", "--features", ",".join([*XOR_PAIR, "page_category"]),
        "--json", str(json_path), "--fail-on-proxy",
    )  # fmt: skip
    # Nothing alone is flagged, the pair together is: --fail-on-proxy fails the run.
    assert completed.returncode == 1, completed.stdout + completed.stderr
    document = orjson.loads(json_path.read_bytes())
    assert not any(p["flagged"] for p in document["proxies"])
    (combination,) = document["combinations"]
    assert combination["attribute"] == "sex" and combination["flagged"]
    assert combination["auc"] >= 0.85 and combination["ber"] <= 0.15


def test_bad_input_is_one_line_on_stderr_and_exit_2(tmp_path: Path) -> None:
    completed = _audit(str(tmp_path / "nowhere.csv"), "--protected", "race")
    assert completed.returncode == 2
    assert completed.stderr.strip() == f"error: {tmp_path / 'nowhere.csv'}: no such file"
    assert completed.stdout == ""
