"""``interceptor demo`` as a user runs it: its own embedded broker, a summary that adds up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.conftest import REPO, read_topics

pytestmark = pytest.mark.kafka


def test_the_demo_routes_every_record_and_writes_its_summary(tmp_path: Path) -> None:
    summary_path = tmp_path / "summary.json"
    completed = subprocess.run(
        [sys.executable, "-m", "interceptor", "--log-level", "WARNING", "demo",
         "--records", "3000", "--entities", "300", "--metrics-port", "0",
         "--summary-json", str(summary_path)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "consistent" in completed.stdout
    summary = orjson.loads(summary_path.read_bytes())
    assert summary["records_in"] == 3000
    assert summary["clean"] + summary["quarantine"] + summary["deadletter"] == 3000
    assert summary["accounted_for"] == 3000
    assert sum(summary["decisions"].values()) == 3000
    # The planted traffic exercises every kind of decision and several dead-letter reasons.
    decisions = set(summary["decisions"])
    assert {"allow", "transform", "redact", "block", "deadletter"} <= decisions
    assert decisions <= {"allow", "flag", "transform", "redact", "block", "deadletter"}
    assert len(summary["deadletter_reasons"]) >= 4
    assert {"CCPA-01", "CCPA-05", "CCPA-07", "CCPA-13", "unregistered-transformation"} <= set(
        summary["rules"]
    )
    assert summary["throughput_rps"] > 0
    assert len(summary["policy_hash"]) == 16
    assert isinstance(summary["proxies"], list)


def test_produce_only_publishes_the_inputs_and_exits(bootstrap: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "interceptor", "--log-level", "WARNING", "demo",
         "--bootstrap-servers", bootstrap, "--records", "500", "--entities", "100",
         "--produce-only"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "published 500 records to features.raw" in completed.stdout
    assert "records routed" not in completed.stdout  # no interceptor of its own ran
    inputs = read_topics(bootstrap, ["features.raw"], 500, timeout_s=20)
    panel = read_topics(bootstrap, ["privacy.audit-panel"], 1, timeout_s=20)
    assert len(inputs) >= 500 and panel


def test_produce_only_needs_a_kafka_to_produce_to() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "interceptor", "demo", "--produce-only"],
        cwd=REPO, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert completed.returncode == 2
    assert "--produce-only needs --bootstrap-servers" in completed.stderr
