"""``interceptor run``: the stream processor as a long-running service.

Start-up fails fast and says why (a bad configuration, policy bundle or manifest directory exits
with status 2 and every problem printed); once running, SIGTERM or SIGINT stop consuming, flush
and commit before the process exits.
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from types import FrameType

from prometheus_client import CollectorRegistry

from interceptor.config import load_settings
from interceptor.errors import ConfigError, SourceError
from interceptor.health import HealthServer, HealthState
from interceptor.metrics import make_metrics
from interceptor.pipeline import Pipeline
from interceptor.stream.runner import Runner

__all__ = ["run_service"]

log = logging.getLogger(__name__)


def run_service(config: Path | None) -> int:
    try:
        settings = load_settings(config)
        pipeline = Pipeline.from_settings(settings)
    except (ConfigError, SourceError) as exc:
        print(exc, file=sys.stderr)
        return 2
    registry = CollectorRegistry()
    metrics = make_metrics(registry)
    health = HealthState(liveness_timeout_s=settings.metrics.liveness_timeout_s)
    runner = Runner(settings, pipeline, metrics, health=health)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: flushing and committing before exit", signal.Signals(signum).name)
        runner.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with HealthServer(
        registry, health, host=settings.metrics.host, port=settings.metrics.port
    ) as server:
        log.info(
            "interceptor running: inputs %s, policy %s, metrics on port %d",
            ",".join(settings.topics.inputs),
            pipeline.policy_hash,
            server.port,
        )
        runner.run()
    return 0
