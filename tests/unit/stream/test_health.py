"""Liveness and readiness logic, and the HTTP endpoints on an ephemeral port."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from prometheus_client import CollectorRegistry

from interceptor.health import HealthServer, HealthState
from interceptor.metrics import make_metrics


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _ready(state: HealthState) -> None:
    for name in ("state_loaded", "group_joined", "broker_reachable"):
        state.set(name, True)


def test_liveness_follows_the_heartbeat() -> None:
    clock = Clock()
    state = HealthState(liveness_timeout_s=5, clock=clock)
    assert state.live()[0]  # starting
    state.beat()
    clock.now += 4
    assert state.live()[0]
    clock.now += 2
    ok, body = state.live()
    assert not ok and body["status"] == "stalled"
    state.stopped()
    assert not state.live()[0]


def test_readiness_lists_what_is_missing() -> None:
    state = HealthState()
    state.beat()
    ok, body = state.ready()
    assert not ok
    assert set(body["reasons"]) == {"state_loaded", "group_joined", "broker_reachable"}  # type: ignore[call-overload]
    _ready(state)
    assert state.ready() == (True, {"status": "ready"})
    state.set("broker_reachable", False, "all brokers down")
    ok, body = state.ready()
    assert not ok and body["reasons"] == {"broker_reachable": "all brokers down"}


def test_ready_listener_sets_the_gauge() -> None:
    registry = CollectorRegistry()
    metrics = make_metrics(registry)
    state = HealthState()
    state.on_ready_change(lambda ok: metrics.ready.set(1 if ok else 0))
    state.beat()
    _ready(state)
    assert registry.get_sample_value("interceptor_ready") == 1
    state.set("group_joined", False, "rebalancing")
    assert registry.get_sample_value("interceptor_ready") == 0


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_endpoints() -> None:
    registry = CollectorRegistry()
    metrics = make_metrics(registry)
    metrics.set_policy("h1")
    state = HealthState()
    with HealthServer(registry, state, host="127.0.0.1", port=0) as server:
        assert server.port > 0
        status, body = _get(server.port, "/metrics")
        assert status == 200 and b'interceptor_policy_info{hash="h1"} 1.0' in body
        status, body = _get(server.port, "/readyz")
        assert status == 503 and json.loads(body)["status"] == "not ready"
        state.beat()
        _ready(state)
        assert _get(server.port, "/readyz")[0] == 200
        assert _get(server.port, "/healthz")[0] == 200
        assert _get(server.port, "/nope")[0] == 404
