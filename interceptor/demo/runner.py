"""``interceptor demo``: broker, topics, manifests, consent, traffic and the interceptor, together.

Everything runs in this process except the broker: the embedded broker binary (or a real Kafka via
``--bootstrap-servers``), the producer of synthetic state and traffic, the :class:`Runner` on a
thread, and the ``/metrics`` endpoint. At the end the output topics are read back to prove that
every input record landed in exactly one of clean, quarantine or dead-letter.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import CollectorRegistry
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from interceptor.config import Settings
from interceptor.demo.report import DemoSummary, proxy_rows, render_summary
from interceptor.demo.synthetic import Population, SyntheticTraffic
from interceptor.embedded import EmbeddedBroker
from interceptor.health import HealthServer, HealthState
from interceptor.manifests import load_manifest_dir
from interceptor.metrics import make_metrics
from interceptor.pipeline import Pipeline
from interceptor.proxies import DetectorReport
from interceptor.stream.admin import ensure_topics, wait_until_ready
from interceptor.stream.clients import base_config
from interceptor.stream.publisher import publish
from interceptor.stream.reader import census
from interceptor.stream.runner import Runner

__all__ = ["DemoOptions", "run_demo"]

log = logging.getLogger(__name__)

INPUT_TOPIC = "features.raw"
#: The dev broker's consumer-group join takes about half the session timeout.
SESSION_TIMEOUT_MS = 6000


@dataclass(frozen=True)
class DemoOptions:
    records: int = 20_000
    entities: int = 2_000
    bootstrap_servers: str | None = None
    metrics_port: int = 9108
    summary_json: Path | None = None
    keep_running: bool = False
    produce_only: bool = False  # publish the inputs and exit; an interceptor elsewhere consumes
    policies: Path = Path("policies")
    manifests: Path = Path("examples/transformations")
    seed: int = 7


def _settings(options: DemoOptions, bootstrap: str) -> Settings:
    run_id = uuid.uuid4().hex[:8]
    return Settings(
        kafka={
            "bootstrap_servers": bootstrap,
            "group_id": f"interceptor-demo-{run_id}",
            "session_timeout_ms": SESSION_TIMEOUT_MS,
        },
        topics={"inputs": [INPUT_TOPIC]},
        policies={"path": options.policies, "reload": True},
        # Manifests arrive through the registry topic, as in production.
        manifests={"path": None},
        metrics={"port": options.metrics_port, "host": "127.0.0.1"},
        # Judge often, so the flags show up while a short demo's records are still flowing.
        detectors={
            "instance_id": f"demo-{run_id}",
            "evaluate_interval_ms": 500,
            "snapshot_interval_ms": 2000,
            "combination_interval_ms": 2000,
        },
    )


def _manifest_messages(directory: Path) -> Iterator[tuple[bytes, bytes, tuple[()]]]:
    for file in sorted(directory.glob("*.yaml")):
        text = file.read_text(encoding="utf-8")
        for manifest in load_manifest_dir(file):
            yield f"{manifest.id}:{manifest.version}".encode(), text.encode("utf-8"), ()


def _publish_inputs(
    console: Console, config: dict[str, Any], settings: Settings, options: DemoOptions
) -> int:
    population = Population(options.entities, seed=options.seed)
    traffic = SyntheticTraffic(population, seed=options.seed + 1)
    topics = settings.topics
    registered = publish(config, topics.transformations, _manifest_messages(options.manifests))
    consent = publish(
        config, topics.consent, ((m.key, m.value, m.headers) for m in population.consent_messages())
    )
    panel = publish(
        config,
        topics.audit_panel,
        ((m.key, m.value, m.headers) for m in population.panel_messages()),
    )
    console.print(
        f"registered {registered} manifests on {topics.transformations}, "
        f"published consent state for {consent} and audit-panel attributes for {panel} "
        f"of {options.entities} entities"
    )
    with Progress(
        TextColumn("publishing traffic"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("publish", total=options.records)
        return publish(
            config,
            INPUT_TOPIC,
            ((m.key, m.value, m.headers) for m in traffic.messages(options.records)),
            progress=lambda n: bar.update(task, completed=n),
        )


def _watch(console: Console, runner: Runner, records_in: int, thread: threading.Thread) -> float:
    """Show live progress until every input record is routed; return the processing seconds
    (first batch consumed to last batch settled, as the runner timed them)."""
    with Live(console=console, refresh_per_second=4, transient=True) as live:
        while thread.is_alive():
            progress = runner.progress()
            routed = sum(progress.decisions.values())
            elapsed = (
                progress.last_batch_at - progress.first_batch_at if progress.first_batch_at else 0.0
            )
            mix = "  ".join(f"{k} {v}" for k, v in sorted(progress.decisions.items()))
            live.update(
                f"[bold]{routed:,}/{records_in:,}[/bold] records routed  "
                f"{routed / elapsed if elapsed > 0 else 0:,.0f} rec/s  {mix}"
            )
            if routed >= records_in and progress.commits:
                return elapsed
            time.sleep(0.1)
    raise RuntimeError("the interceptor stopped before it routed every record; see the log")


def _final_detector_report(
    pipeline: Pipeline, runner: Runner, timeout_s: float = 30.0
) -> DetectorReport | None:
    """The loop's first detector evaluation, with a classifier fit, made after the last batch."""
    proxy = pipeline.proxy
    if proxy is None:
        return None
    last_batch = runner.progress().last_batch_at
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        report = proxy.last_report
        if (
            report is not None
            and report.evaluated_at > last_batch
            and report.combinations_as_of > last_batch
        ):
            return report
        time.sleep(0.1)
    log.warning("no detector evaluation after the last batch within %.0fs", timeout_s)
    return proxy.last_report


def run_demo(options: DemoOptions) -> int:
    console = Console()
    with ExitStack() as stack:
        bootstrap = options.bootstrap_servers
        if bootstrap is None:
            broker = stack.enter_context(EmbeddedBroker())
            bootstrap = broker.bootstrap
            console.print(f"embedded broker on [bold]{bootstrap}[/bold]")
        settings = _settings(options, bootstrap)
        config = base_config(settings)
        wait_until_ready(bootstrap, 30.0, config=config)
        ensure_topics(settings)
        records_in = _publish_inputs(console, config, settings, options)
        if options.produce_only:
            console.print(f"published {records_in:,} records to {INPUT_TOPIC}")
            return 0

        registry = CollectorRegistry()
        metrics = make_metrics(registry)
        health = HealthState()
        server = stack.enter_context(
            HealthServer(registry, health, host=settings.metrics.host, port=options.metrics_port)
        )
        console.print(f"metrics on http://127.0.0.1:{server.port}/metrics")
        pipeline = Pipeline.from_settings(settings)
        runner = Runner(settings, pipeline, metrics, health=health)
        stop = threading.Event()
        thread = threading.Thread(target=runner.run, args=(stop,), name="interceptor", daemon=True)
        thread.start()
        consistent = False
        try:
            seconds = _watch(console, runner, records_in, thread)
            outputs = census(
                config,
                [settings.topics.clean, settings.topics.quarantine, settings.topics.deadletter],
                expected=records_in,
            )
            with console.status(
                "waiting for the proxy detectors' last evaluation and classifier fit"
            ):
                report = _final_detector_report(pipeline, runner)
            summary = DemoSummary.collect(
                registry=registry,
                records_in=records_in,
                outputs=outputs,
                input_topics=[INPUT_TOPIC],
                seconds=seconds,
                policy_hash=pipeline.policy_hash,
            )
            if report is not None:
                summary.proxies, summary.combinations = proxy_rows(report)
            render_summary(console, summary)
            consistent = summary.consistent
            if options.summary_json is not None:
                options.summary_json.write_bytes(
                    orjson.dumps(summary.as_json(), option=orjson.OPT_INDENT_2)
                )
                console.print(f"summary written to {options.summary_json}")
            if options.keep_running:
                console.print("still serving; Ctrl-C to stop")
                while thread.is_alive():
                    thread.join(timeout=1.0)
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            thread.join(timeout=30)
        return 0 if consistent else 1
