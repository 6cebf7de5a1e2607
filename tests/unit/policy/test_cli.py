"""policy lint, test and explain as a user runs them: output and exit status."""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson
import pytest

from interceptor.policy.cli import add_policy_commands
from tests.unit.policy.conftest import BundleFactory
from tests.unit.policy.helpers import GEO, rules_yaml

RULES = """
- id: OPT-OUT
  title: opted out
  cite: c
  severity: critical
  when:
    all:
      - transformation.purpose: {in: $ads_cross_context}
      - consent.gpc: {eq: true}
  action: block
"""

CASES = """\
manifests:
  geo: {file: ../../geo.yaml}
cases:
  - name: gpc blocks
    manifest: geo
    record: {entity_id: u-1, event_time: "2026-12-01T11:00:00Z", features: {zip3: "941"}}
    consent: {gpc: true}
    expect: {decision: block, rules: [OPT-OUT]}
  - name: no gpc passes
    manifest: geo
    record: {entity_id: u-1, event_time: "2026-12-01T11:00:00Z", features: {zip3: "941"}}
    expect: {decision: allow, not_rules: [OPT-OUT]}
"""


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="interceptor")
    add_policy_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    status = args.func(args)
    out = capsys.readouterr()
    return status, out.out, out.err


def test_lint_ok_and_errors(
    write_bundle: BundleFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_bundle({"rules.yaml": rules_yaml(RULES)})
    status, out, _ = run(["policy", "lint", str(root)], capsys)
    assert status == 0
    assert out.startswith(f"{root}: OK, 1 rules in 1 files, hash ")
    (root / "rules.yaml").write_text(rules_yaml(RULES.replace("eq: true", "equals: true")))
    status, out, _ = run(["policy", "lint", str(root)], capsys)
    assert status == 1
    assert out.splitlines() == [
        f"{root / 'rules.yaml'}:10:25: unknown operator 'equals' (known: eq, exists, ge, gt, in, "
        "intersects, le, lt, matches, ne, not_in, subset_of)"
    ]


def test_test_command(write_bundle: BundleFactory, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_bundle({"rules.yaml": rules_yaml(RULES), "tests/cases.yaml": CASES})
    (root.parent / "geo.yaml").write_text(GEO)
    status, out, _ = run(["policy", "test", str(root)], capsys)
    assert (status, out) == (0, "2 passed, 0 failed\n")
    status, out, _ = run(["policy", "test", "-v", str(root)], capsys)
    assert out.splitlines()[0].startswith("PASS ")
    (root / "tests" / "cases.yaml").write_text(CASES.replace("decision: allow", "decision: flag"))
    status, out, _ = run(["policy", "test", str(root)], capsys)
    assert status == 1 and out.endswith("1 passed, 1 failed\n")


def test_explain_command(
    write_bundle: BundleFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_bundle({"rules.yaml": rules_yaml(RULES)})
    manifest = tmp_path / "geo.yaml"
    manifest.write_text(GEO)
    record = tmp_path / "record.json"
    record.write_bytes(
        orjson.dumps({"entity_id": "u", "event_time": "2026-12-01T11:00:00Z", "features": {}})
    )
    argv = ["policy", "explain", "--policies", str(root), "--manifest", str(manifest)]
    status, out, _ = run([*argv, "--record", f"@{record}", "--consent", '{"gpc": true}'], capsys)
    assert status == 0
    result = orjson.loads(out)
    assert result["decision"] == "block"
    assert [rule["id"] for rule in result["rules"]] == ["OPT-OUT"]
    status, out, _ = run([*argv, "--record", f"@{record}", "--now", "2026-12-01T12:00:00Z"], capsys)
    assert orjson.loads(out)["decision"] == "allow"
    assert orjson.loads(out)["now"] == 1_796_126_400.0
    status, _, err = run([*argv, "--record", '{"entity_id": "u"}'], capsys)
    assert status == 1 and "event_time" in err
