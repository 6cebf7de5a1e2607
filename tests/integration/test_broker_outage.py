"""A broker that goes away: the loop stays alive, readiness and metrics say so, then recover."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry

from interceptor.config import Settings
from interceptor.embedded import EmbeddedBroker, free_port
from interceptor.health import HealthState
from interceptor.metrics import make_metrics
from interceptor.stream import Runner
from interceptor.stream.admin import ensure_topics, wait_until_ready
from tests.integration.running import running, wait_for
from tests.integration.standin import StandInPipeline

pytestmark = pytest.mark.kafka


def _broker_problem(health: HealthState) -> object:
    ok, body = health.ready()
    reasons = body.get("reasons", {})
    assert isinstance(reasons, dict)
    return reasons.get("broker_reachable")


def test_lost_broker_is_not_ready_but_alive_and_recovers(
    settings_factory: Callable[..., Settings],
) -> None:
    port = free_port()
    broker = EmbeddedBroker(port, ready_check=wait_until_ready).start()
    settings = settings_factory(kafka={"bootstrap_servers": broker.bootstrap})
    ensure_topics(settings)
    registry = CollectorRegistry()
    health = HealthState(liveness_timeout_s=10)
    runner = Runner(settings, StandInPipeline(), make_metrics(registry), health=health)
    try:
        with running(runner):
            wait_for(lambda: health.ready()[0], 30, "ready")
            broker.stop()
            wait_for(lambda: _broker_problem(health) is not None, 20, "broker unreachable")
            assert health.live()[0], "the loop must keep turning while the broker is away"
            errors = registry.get_sample_value(
                "interceptor_broker_errors_total", {"kind": "all_brokers_down"}
            ) or registry.get_sample_value("interceptor_broker_errors_total", {"kind": "transport"})
            assert errors and errors > 0
            assert registry.get_sample_value("interceptor_ready") == 0
            broker = EmbeddedBroker(port, ready_check=wait_until_ready).start()
            wait_for(lambda: _broker_problem(health) is None, 30, "broker reachable again")
            assert health.live()[0]
    finally:
        broker.stop()
