"""``/metrics``, ``/healthz`` and ``/readyz`` on one small threaded HTTP server.

Liveness and readiness mean different things to an orchestrator: ``/healthz`` fails only when the
processing loop has stopped turning (restart me), ``/readyz`` fails while the instance cannot do its
job yet or right now (state topics still loading, no group membership, broker unreachable), which
must not cause a restart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

__all__ = ["READINESS_CONDITIONS", "HealthServer", "HealthState"]

#: What /readyz waits for, in the order it reports them.
READINESS_CONDITIONS: Final = ("state_loaded", "group_joined", "broker_reachable")


class HealthState:
    """Liveness heartbeat and readiness conditions, written by the loop, read by HTTP threads."""

    def __init__(
        self, *, liveness_timeout_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._timeout = liveness_timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._beat: float | None = None
        self._stopped = False
        self._conditions: dict[str, tuple[bool, str]] = dict.fromkeys(
            READINESS_CONDITIONS, (False, "starting")
        )
        self._listeners: list[Callable[[bool], None]] = []

    def on_ready_change(self, listener: Callable[[bool], None]) -> None:
        """Call ``listener(ready)`` after every condition update (e.g. to set a gauge)."""
        self._listeners.append(listener)

    def beat(self) -> None:
        """The loop completed an iteration."""
        self._beat = self._clock()
        self._stopped = False

    def stopped(self) -> None:
        """The loop has exited on purpose: neither live nor ready any more."""
        self._stopped = True
        self.set("group_joined", False, "stopped")

    def set(self, condition: str, ok: bool, reason: str = "") -> None:
        if condition not in self._conditions:
            raise ValueError(f"unknown readiness condition {condition!r}")
        with self._lock:
            self._conditions[condition] = (ok, "" if ok else reason or "not yet")
        ready = self.ready()[0]
        for listener in self._listeners:
            listener(ready)

    def live(self) -> tuple[bool, dict[str, object]]:
        beat = self._beat
        if self._stopped:
            return False, {"status": "stopped"}
        if beat is None:
            return True, {"status": "starting"}
        age = self._clock() - beat
        if age > self._timeout:
            return False, {"status": "stalled", "last_iteration_age_s": round(age, 3)}
        return True, {"status": "ok", "last_iteration_age_s": round(age, 3)}

    def ready(self) -> tuple[bool, dict[str, object]]:
        with self._lock:
            conditions: Mapping[str, tuple[bool, str]] = dict(self._conditions)
        failing = {name: reason for name, (ok, reason) in conditions.items() if not ok}
        live, _ = self.live()
        if not live:
            failing["loop"] = "not running"
        if failing:
            return False, {"status": "not ready", "reasons": failing}
        return True, {"status": "ready"}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, generate_latest(self.server.registry), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            self._json(*self.server.state.live())
        elif path == "/readyz":
            self._json(*self.server.state.ready())
        else:
            self._send(404, b"not found\n", "text/plain; charset=utf-8")

    def _json(self, ok: bool, body: dict[str, object]) -> None:
        self._send(200 if ok else 503, orjson.dumps(body) + b"\n", "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Scrapes every few seconds would drown the log; stay quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], registry: CollectorRegistry, state: HealthState
    ) -> None:
        self.registry = registry
        self.state = state
        super().__init__(address, _Handler)


class HealthServer:
    """Serves the endpoints from a daemon thread; port 0 binds an ephemeral port."""

    def __init__(
        self,
        registry: CollectorRegistry,
        state: HealthState,
        *,
        host: str = "0.0.0.0",
        port: int = 9108,
    ) -> None:
        self._server = _Server((host, port), registry, state)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="interceptor-http", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> HealthServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
