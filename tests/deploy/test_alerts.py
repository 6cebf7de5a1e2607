"""Alert rules: valid, unit-tested both ways with promtool, documented in the README runbook."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.deploy.conftest import require_prometheus_tools
from tests.deploy.support import ALERT_TESTS, ALERTS, alert_rules, write_yaml

pytestmark = pytest.mark.timeout(60)

EXPECTED_ALERTS = {
    "InterceptorDown",  # interceptor down
    "InterceptorStalled",  # lag growing while no records are processed
    "InterceptorLagHigh",  # lag high
    "InterceptorNoCommit",  # no commit for too long
    "InterceptorDeadLetters",  # any dead-letter traffic
    "InterceptorBlockRatioSpike",  # block ratio spike
    "InterceptorPolicyReloadRejected",  # policy reload rejected
    "InterceptorProxyFeatureFlagged",  # a feature newly flagged as a proxy
    "InterceptorAuditPanelCoverageLow",  # audit-panel coverage too low for the detectors
}


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    require_prometheus_tools()
    return subprocess.run(["promtool", *args], cwd=REPO, capture_output=True, text=True, timeout=30)


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def readme_anchors() -> set[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return {github_anchor(m) for m in re.findall(r"^#{1,6} (.+)$", text, flags=re.MULTILINE)}


def test_promtool_checks_the_rules() -> None:
    checked = _promtool("check", "rules", str(ALERTS))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(EXPECTED_ALERTS)} rules found" in checked.stdout


def test_promtool_unit_tests_pass() -> None:
    files = sorted(str(p) for p in ALERT_TESTS.glob("*.yml"))
    assert files
    tested = _promtool("test", "rules", *files)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_has_a_case_that_fires_and_one_that_stays_quiet() -> None:
    fires: set[str] = set()
    quiet: set[str] = set()
    for path in ALERT_TESTS.glob("*.yml"):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for test in document["tests"]:
            for case in test.get("alert_rule_test", []):
                (fires if case.get("exp_alerts") else quiet).add(case["alertname"])
    assert fires == EXPECTED_ALERTS, EXPECTED_ALERTS ^ fires
    assert quiet == EXPECTED_ALERTS, EXPECTED_ALERTS ^ quiet


def test_every_alert_is_labelled_annotated_and_linked_to_its_runbook() -> None:
    rules = alert_rules()
    assert {r["alert"] for r in rules} == EXPECTED_ALERTS
    anchors = readme_anchors()
    for rule in rules:
        name = rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        annotations = rule["annotations"]
        assert annotations["summary"] and len(annotations["description"].split()) >= 20, name
        assert annotations["runbook_url"] == f"README.md#{name.lower()}", name
        assert name.lower() in anchors, f"README has no section {name!r} (the runbook link)"


def test_the_compose_prometheus_config_is_valid(tmp_path: Path) -> None:
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["interceptor"]["static_configs"] == [{"targets": ["interceptor:9108"]}]
    config["rule_files"] = [str(ALERTS)]  # where the container mounts it, here
    checked = _promtool("check", "config", str(write_yaml(tmp_path / "prometheus.yml", config)))
    assert checked.returncode == 0, checked.stdout + checked.stderr
