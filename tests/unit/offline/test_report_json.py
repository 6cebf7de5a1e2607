from __future__ import annotations

from pathlib import Path

import orjson

from interceptor.offline.report_json import audit_json, write_json
from interceptor.offline.result import AuditResult

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


def test_every_proxy_has_the_contract_fields(audit_result: AuditResult) -> None:
    document = audit_json(audit_result)
    assert len(document["proxies"]) == len(audit_result.proxies)
    for proxy in document["proxies"]:
        assert set(proxy) >= CONTRACT
        assert proxy["flagged"] == (proxy["status"] in ("review", "proxy"))
        assert isinstance(proxy["n"], int)


def test_proxies_are_sorted_flagged_first_then_by_score(audit_result: AuditResult) -> None:
    proxies = audit_json(audit_result)["proxies"]
    assert [(p["feature"], p["attribute"]) for p in proxies[:3]] == [
        ("zip3", "race"),
        ("zip3", "joint"),
        ("name_cluster", "sex"),
    ]
    flags = [p["flagged"] for p in proxies]
    assert flags == sorted(flags, reverse=True)


def test_missing_numbers_are_null_and_the_file_is_valid_json(
    audit_result: AuditResult, tmp_path: Path
) -> None:
    path = tmp_path / "audit.json"
    write_json(audit_result, path)
    document = orjson.loads(path.read_bytes())
    hostile = next(p for p in document["proxies"] if p["attribute"] == "sex" and p["score"] is None)
    assert hostile["p_value"] is None
    sparse = next(p for p in document["proxies"] if p["feature"] == "device_id")
    assert sparse["status"] == "insufficient_support" and sparse["flagged"] is False
    assert sparse["predictive_information"] == -0.15
    assert sparse["reasons"] == ["sparse_cells", "id_like"]


def test_top_level_keys_describe_the_scan(audit_result: AuditResult) -> None:
    document = audit_json(audit_result)
    assert document["rows"] == 10_000
    assert document["file"] == "panel & friends.csv"
    assert document["thresholds"] == {"review": 0.01, "proxy": 0.05, "alpha": 0.01}
    assert document["flagged_features"] == ["zip3", "name_cluster"]
    assert document["protected"]["race"] == {
        "levels": {"asian": 900, "white": 8_900},
        "unknown": 200,
    }
    assert document["combinations"][0] == {
        "attribute": "race",
        "n": 9_800,
        "ber": 0.23,
        "auc": 0.9,
        "predictive_information": 0.5,
        "flagged": True,
        "features": ["zip3", "name_cluster"],
    }
