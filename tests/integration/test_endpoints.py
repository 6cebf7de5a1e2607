"""/metrics, /healthz and /readyz of a running interceptor."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry

from interceptor.config import Settings
from interceptor.health import HealthServer, HealthState
from interceptor.metrics import make_metrics
from interceptor.pipeline import Pipeline
from interceptor.stream import Runner
from tests.integration.feature_data import BAD_RECORDS, valid_messages
from tests.integration.running import running, wait_for

pytestmark = pytest.mark.kafka


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_metrics_health_and_readiness(
    settings_factory: Callable[..., Settings],
    create_topics: Callable[[Settings], None],
    produce: Callable[..., None],
) -> None:
    settings = settings_factory()
    create_topics(settings)
    produce(settings.topics.inputs[0], valid_messages(50) + [(b"k", b"{not json", [])])
    registry = CollectorRegistry()
    health = HealthState(liveness_timeout_s=5)
    pipeline = Pipeline.from_settings(settings)
    runner = Runner(settings, pipeline, make_metrics(registry), health=health)
    with HealthServer(registry, health, host="127.0.0.1", port=0) as server:
        status, body = _get(server.port, "/readyz")
        assert status == 503 and json.loads(body)["status"] == "not ready"
        with running(runner):
            wait_for(lambda: _get(server.port, "/readyz")[0] == 200, 30, "/readyz 200")
            wait_for(lambda: runner.progress().records_in >= 51, 30, "the records")
            wait_for(lambda: runner.progress().commits >= 1, 10, "a commit")
            assert _get(server.port, "/healthz")[0] == 200
            status, text = _get(server.port, "/metrics")
            assert status == 200
            raw = settings.topics.inputs[0]
            assert f'interceptor_records_consumed_total{{topic="{raw}"}} 51.0' in text
            assert 'interceptor_deadletter_total{reason="not_json"} 1.0' in text
            assert f'interceptor_policy_info{{hash="{pipeline.policy_hash}"}} 1.0' in text
            assert "interceptor_record_latency_seconds_count 51.0" in text
            assert "interceptor_batch_duration_seconds_count" in text
            assert 'interceptor_transformations{verdict="' in text
            assert "interceptor_ready 1.0" in text
            commit = registry.get_sample_value("interceptor_last_commit_timestamp_seconds")
            assert commit is not None and commit > 0
            decided = sum(
                registry.get_sample_value("interceptor_records_total", {"decision": d}) or 0
                for d in ("allow", "flag", "transform", "redact", "block", "deadletter")
            )
            assert decided == 51
            assert "entity" not in text and "u-" not in text  # no entity ids in labels
        status, body = _get(server.port, "/readyz")
        assert status == 503
        assert _get(server.port, "/healthz")[0] == 503
    assert len(BAD_RECORDS) > 0
