"""Interceptor throughput against a plain consume→produce→commit loop: same broker, same input.

    .venv/bin/python bench/throughput.py [--records 200000] [--batch-size 5000]

Starts the embedded broker, produces synthetic feature records for the example manifests (no
consent state, i.e. every entity unknown) to two input topics, then runs, each in its own
subprocess so peak RSS is its own:

  (a) baseline: consume(batch) → produce every record unchanged to one output topic → flush until
      every delivery is acknowledged → commit: the same at-least-once protocol, no decisions;
  (b) interceptor: the Runner with the real Pipeline and the default policy pack (``policies/``),
      proxy detectors off;
  (c) detectors: the same with the proxy detectors on and half the entities on the audit panel
      (their records feed the detector tables; evaluation every 5 s, snapshots every 10 s and the
      combination classifier every 60 s, the defaults).

Throughput is measured from the first consumed batch to the last committed one, so start-up and
the consumer-group join are not counted. Prints records/s of each, the ratio and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import orjson  # noqa: E402
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

from interceptor.config import Settings  # noqa: E402
from interceptor.embedded import EmbeddedBroker  # noqa: E402
from interceptor.manifests import Manifest, load_manifest_dir  # noqa: E402
from interceptor.stream.admin import TopicSpec, ensure_topics, wait_until_ready  # noqa: E402
from interceptor.stream.clients import consumer_config, producer_config  # noqa: E402

INPUTS = ("bench.features.a", "bench.features.b")
PARTITIONS = 3
SESSION_TIMEOUT_MS = 6000


def _feature_value(kind: str, rng: random.Random) -> Any:
    if kind == "numeric":
        return round(rng.uniform(0, 100), 3)
    if kind == "geo":
        return round(rng.uniform(32.5, 42.0), 5)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "identifier":
        return uuid.UUID(int=rng.getrandbits(128)).hex[:16]
    return rng.choice(["a", "b", "c", "d", "e", "f", "g", "h"])


def synthetic(n: int, manifests: list[Manifest], seed: int = 1) -> list[tuple[bytes, bytes]]:
    """``n`` valid feature records, round-robin over the manifests, 50k distinct entities."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    out = []
    for i in range(n):
        manifest = manifests[i % len(manifests)]
        entity = f"u-{rng.randrange(50_000)}"
        record = {
            "entity_id": entity,
            "event_time": now,
            "transformation": manifest.id,
            "version": manifest.version,
            "features": {o.name: _feature_value(o.type, rng) for o in manifest.outputs},
            "context": {"session_only": False, "campaign_category": "none"},
        }
        out.append((entity.encode(), orjson.dumps(record)))
    return out


PANEL_SHARE = 0.5
PANEL_LEVELS = {
    "race": ["white", "black", "hispanic", "asian", "native", "other"],
    "sex": ["female", "male", "nonbinary"],
    "age_band": ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"],
}


def panel(seed: int = 3) -> list[tuple[bytes, bytes]]:
    """Audit-panel messages for :data:`PANEL_SHARE` of the 50k synthetic entities."""
    rng = random.Random(seed)
    return [
        (
            f"u-{i}".encode(),
            orjson.dumps({name: rng.choice(levels) for name, levels in PANEL_LEVELS.items()}),
        )
        for i in range(50_000)
        if rng.random() < PANEL_SHARE
    ]


def _settings(bootstrap: str, run: str, batch_size: int) -> Settings:
    return Settings(
        kafka={
            "bootstrap_servers": bootstrap,
            "group_id": f"bench-{run}",
            "session_timeout_ms": SESSION_TIMEOUT_MS,
        },
        topics={
            "inputs": list(INPUTS),
            "clean": f"bench.{run}.clean",
            "quarantine": f"bench.{run}.quarantine",
            "audit": f"bench.{run}.audit",
            "deadletter": f"bench.{run}.deadletter",
            "consent": f"bench.{run}.consent",
            "audit_panel": f"bench.{run}.panel",
            "transformations": f"bench.{run}.transformations",
            "detector_state": f"bench.{run}.detector",
        },
        processing={"batch_size": batch_size, "batch_timeout_ms": 100},
        policies={"path": str(REPO / "policies"), "reload": False},
        manifests={"path": str(REPO / "examples" / "transformations")},
        metrics={"port": 0},
        audit={"entity_salt": "bench-salt-0123456789abcdef"},
        detectors={"enabled": run == "detectors", "instance_id": f"bench-{run}"},
    )


def _peak_rss_mb() -> float:
    """Peak RSS of this process since its exec (VmHWM); getrusage after fork+exec can report
    the parent's peak instead."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _status(text: str) -> None:
    print(f"\r  {text:<70}", end="", file=sys.stderr, flush=True)


# ---- (a) the baseline loop -------------------------------------------------------------------


def run_baseline(settings: Settings, records: int) -> dict[str, Any]:
    consumer = Consumer(consumer_config(settings))
    consumer.subscribe(list(settings.topics.inputs))
    out_topic = settings.topics.clean
    seen = 0
    first = 0.0
    failed: list[str] = []

    def report(err: Any, _msg: Any) -> None:
        if err is not None:
            failed.append(str(err))

    producer = Producer(producer_config(settings, on_delivery=report))
    size = settings.processing.batch_size
    while seen < records:
        messages = consumer.consume(size, 0.1)
        batch = [m for m in messages if m.error() is None]
        if not batch:
            continue
        first = first or time.time()
        last: dict[tuple[str, int], int] = {}
        for m in batch:
            producer.produce(out_topic, m.value(), m.key(), headers=m.headers())
            last[(m.topic(), m.partition())] = m.offset()
        while producer.flush(1.0):
            pass
        if failed:
            raise RuntimeError(f"baseline delivery failed: {failed[:3]}")
        consumer.commit(
            offsets=[TopicPartition(t, p, o + 1) for (t, p), o in last.items()],
            asynchronous=True,
        )
        seen += len(batch)
        _status(f"baseline: {seen}/{records}")
    end = time.time()
    consumer.close()
    return {"records": seen, "seconds": end - first, "peak_rss_mb": _peak_rss_mb()}


# ---- (b) the interceptor ---------------------------------------------------------------------


def run_interceptor(settings: Settings, records: int) -> dict[str, Any]:
    from prometheus_client import CollectorRegistry

    from interceptor.metrics import make_metrics
    from interceptor.pipeline import Pipeline
    from interceptor.stream.runner import Runner

    pipeline = Pipeline.from_settings(settings)
    runner = Runner(settings, pipeline, make_metrics(CollectorRegistry()))
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    while True:
        progress = runner.progress()
        _status(f"interceptor: {progress.records_in}/{records}")
        if progress.records_in >= records and progress.commits:
            break
        if not thread.is_alive():
            raise RuntimeError("the runner stopped early")
        time.sleep(0.2)
    runner.request_stop()
    thread.join(30)
    progress = runner.progress()
    return {
        "records": progress.records_in,
        "seconds": progress.last_batch_at - progress.first_batch_at,
        "peak_rss_mb": _peak_rss_mb(),
        "decisions": progress.decisions,
        "policy_hash": progress.policy_hash,
    }


# ---- orchestration ---------------------------------------------------------------------------


def _produce(
    bootstrap: str, data: list[tuple[bytes, bytes]], topics: tuple[str, ...] = INPUTS
) -> float:
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 20, "compression.type": "lz4"}
    )
    started = time.time()
    for i, (key, value) in enumerate(data):
        topic = topics[i % len(topics)]
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.05)
        if i % 20_000 == 0:
            _status(f"producing input: {i}/{len(data)}")
    while producer.flush(1.0):
        _status(f"producing input: flushing {len(producer)} outstanding")
    _status(f"producing input: {len(data)}/{len(data)}")
    print(file=sys.stderr)
    return time.time() - started


def _worker(kind: str, bootstrap: str, records: int, batch_size: int) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--worker",
        kind,
        "--bootstrap",
        bootstrap,
        "--records",
        str(records),
        "--batch-size",
        str(batch_size),
    ]
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    print(file=sys.stderr)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _line(name: str, r: dict[str, Any]) -> str:
    rate = r["records"] / r["seconds"]
    return (
        f"{name:<12} {r['records']:>8} records in {r['seconds']:6.2f} s = {rate:>9,.0f} records/s"
        f"   peak RSS {r['peak_rss_mb']:6.0f} MB"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--worker", choices=["baseline", "interceptor", "detectors"])
    parser.add_argument("--bootstrap")
    args = parser.parse_args()

    if args.worker:
        settings = _settings(args.bootstrap, args.worker, args.batch_size)
        run = run_baseline if args.worker == "baseline" else run_interceptor
        print(json.dumps(run(settings, args.records)))
        return 0

    manifests = load_manifest_dir(REPO / "examples" / "transformations")
    with EmbeddedBroker(ready_check=wait_until_ready) as broker:
        bootstrap = broker.bootstrap
        admin = Settings(kafka={"bootstrap_servers": bootstrap})
        ensure_topics(admin, [TopicSpec(t, PARTITIONS) for t in INPUTS])
        for kind in ("baseline", "interceptor", "detectors"):
            ensure_topics(_settings(bootstrap, kind, args.batch_size))
        panel_topic = _settings(bootstrap, "detectors", args.batch_size).topics.audit_panel
        _produce(bootstrap, panel(), topics=(panel_topic,))
        print(f"broker {bootstrap}; generating {args.records} records", file=sys.stderr)
        data = synthetic(args.records, manifests)
        seconds = _produce(bootstrap, data)
        print(
            f"input: {args.records} records on {len(INPUTS)} topics x {PARTITIONS} partitions, "
            f"produced in {seconds:.1f} s; batch size {args.batch_size}"
        )
        baseline = _worker("baseline", bootstrap, args.records, args.batch_size)
        interceptor = _worker("interceptor", bootstrap, args.records, args.batch_size)
        detectors = _worker("detectors", bootstrap, args.records, args.batch_size)
    print(_line("baseline", baseline))
    print(_line("interceptor", interceptor))
    print(_line("detectors", detectors))

    def rate(r: dict[str, Any]) -> float:
        return float(r["records"]) / float(r["seconds"])

    print(f"ratio interceptor/baseline = {rate(interceptor) / rate(baseline):.2f} (goal >= 0.5)")
    print(
        f"ratio interceptor with detectors/baseline = {rate(detectors) / rate(baseline):.2f} "
        "(goal >= 0.4)"
    )
    print(f"interceptor decisions: {interceptor.get('decisions')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
