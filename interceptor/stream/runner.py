"""The consume → decide → produce → acknowledge → commit loop.

One thread does everything, in this order per iteration: apply new state-topic messages and policy
reloads, consume a batch, decide it with the pipeline, produce the outputs, and make the batch
durable (:mod:`interceptor.stream.settle`: acknowledgements before commits at-least-once, one
transaction per batch exactly-once). State topics (consent, transformation registry) are read
whole before the first batch, so a record is always decided with the consent state known when it
was read. Rebalances settle and commit synchronously for the partitions that leave.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from interceptor.config import Settings
from interceptor.envelope import OutputRecord, SourceRecord
from interceptor.errors import InterceptorError
from interceptor.health import HealthState
from interceptor.metrics import Metrics, parse_consumer_lag
from interceptor.proxy_metrics import record_detector_report
from interceptor.stream.admin import BrokerUnavailableError, ensure_topics, wait_until_ready
from interceptor.stream.clients import admin_config, consumer_config
from interceptor.stream.commits import TopicPartitionKey
from interceptor.stream.convert import source_batch
from interceptor.stream.protocols import PipelineLike
from interceptor.stream.settle import SettleError, Settler
from interceptor.stream.sink import OutputSink
from interceptor.stream.state import StateLoadTimeoutError, StateTopicReader

__all__ = ["Runner", "RunnerError", "RunnerProgress"]

log = logging.getLogger(__name__)

#: librdkafka errors that mean "cannot reach the cluster" rather than "bad request".
_UNREACHABLE: Final = frozenset(
    {KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT, KafkaError._RESOLVE}
)
_SHUTDOWN_GRACE_S: Final = 10.0
_RECHECK_BROKER_S: Final = 2.0


class RunnerError(InterceptorError, RuntimeError):
    """The loop cannot continue (a fatal client error); nothing uncommitted is lost."""


@dataclass(frozen=True)
class RunnerProgress:
    """Counts for a live progress line; a snapshot, safe to read from another thread."""

    records_in: int = 0
    batches: int = 0
    outputs: dict[str, int] = field(default_factory=dict)  # destination -> routed outputs
    decisions: dict[str, int] = field(default_factory=dict)
    commits: int = 0
    rewinds: int = 0
    state_messages: int = 0
    policy_hash: str = ""
    started_at: float = 0.0  # run() called
    first_batch_at: float = 0.0  # first records consumed (after start-up and the group join)
    last_batch_at: float = 0.0  # last batch settled


class Runner:
    """Runs ``pipeline`` against the topics in ``settings`` until asked to stop.

    ``run`` blocks; call ``request_stop`` (or set the ``stop_event`` passed to ``run``) from a
    signal handler or another thread, and it returns after flushing and committing.
    """

    def __init__(
        self,
        settings: Settings,
        pipeline: PipelineLike,
        metrics: Metrics,
        *,
        health: HealthState | None = None,
    ) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.metrics = metrics
        self.health = health if health is not None else HealthState()
        self.health.on_ready_change(lambda ok: metrics.ready.set(1 if ok else 0))
        self._stop = threading.Event()
        self._external_stop: threading.Event | None = None
        self._exactly_once = settings.processing.guarantee == "exactly-once"
        self._inputs = frozenset(settings.topics.inputs)
        self._consumer: Consumer | None = None
        self._sink: OutputSink | None = None
        self._settler: Settler | None = None
        self._readers: list[StateTopicReader] = []
        self._next_policy_poll = 0.0
        self._broker_ok: bool | None = None  # unknown until the first contact
        self._next_broker_check = 0.0
        self._fatal: KafkaError | None = None
        self._stop_waiting_since: float | None = None
        self._progress_lock = threading.Lock()
        self._progress = RunnerProgress()
        self._outputs: Counter[str] = Counter()
        self._decisions: Counter[str] = Counter()
        self._panel_records_counted = 0

    # ---- control -------------------------------------------------------------------------------

    def request_stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        ext = self._external_stop
        return self._stop.is_set() or (ext is not None and ext.is_set())

    def progress(self) -> RunnerProgress:
        rewinds = self._settler.rewinds if self._settler is not None else 0
        with self._progress_lock:
            return replace(
                self._progress,
                outputs=dict(self._outputs),
                decisions=dict(self._decisions),
                rewinds=rewinds,
            )

    def _bump(self, **changes: Any) -> None:
        with self._progress_lock:
            self._progress = replace(self._progress, **changes)

    # ---- run -----------------------------------------------------------------------------------

    def run(self, stop_event: threading.Event | None = None) -> None:
        """Connect, load state, then process batches until stopped."""
        self._external_stop = stop_event
        self._bump(started_at=time.time(), policy_hash=self.pipeline.policy_hash)
        self.metrics.set_policy(self.pipeline.policy_hash)
        try:
            if not self._connect():
                return
            self._sink = OutputSink(
                self.settings, transactional=self._exactly_once, on_error=self._client_error
            )
            self._sink.init()
            self._settler = Settler(
                self._sink,
                exactly_once=self._exactly_once,
                commit_interval_s=self.settings.processing.commit_interval_ms / 1000,
                on_waiting=self._waiting,
                on_committed=self._committed,
                on_error=self._client_error,
            )
            self._settler.send_side(self.pipeline.startup())
            if not self._load_state():
                return
            # What exists now (policy, manifests, consent state) lives as long as the process:
            # keep it out of the cyclic collector's scans, which otherwise grow with the state
            # and land on whichever record happens to allocate next.
            gc.freeze()
            self._settler.settle([])
            self._subscribe()
            self._loop()
        except SettleError as exc:
            raise RunnerError(str(exc)) from exc
        finally:
            self._shutdown()

    def _connect(self) -> bool:
        while not self.stopping:
            try:
                wait_until_ready(
                    self.settings.kafka.bootstrap_servers,
                    5.0,
                    config=admin_config(self.settings),
                )
                break
            except BrokerUnavailableError as exc:
                self._set_broker(False, str(exc))
                self.health.beat()
        else:
            return False
        self._set_broker(True)
        if self.settings.topics.create_missing:
            ensure_topics(self.settings)
        return True

    def _load_state(self) -> bool:
        timeout = self.settings.processing.state_load_timeout_ms / 1000
        topics = self.settings.topics
        self._readers = [
            self._reader(topics.transformations, self.pipeline.on_manifest),
            self._reader(topics.consent, self._on_consent),
        ]
        if self.pipeline.proxy is not None:  # the detectors' panel and the other instances' tables
            self._readers += [
                self._reader(topics.audit_panel, self.pipeline.on_panel),
                self._reader(topics.detector_state, self.pipeline.on_detector_state),
            ]
        for reader in self._readers:
            while not reader.caught_up and not self.stopping:
                self.health.set("state_loaded", False, f"reading {reader.topic}")
                self.health.beat()
                try:
                    outputs = reader.load(timeout, self._loading_should_stop)
                    self._side(outputs)
                except StateLoadTimeoutError as exc:
                    log.error("%s; still trying", exc)
        if self.stopping:
            return False
        self.health.set("state_loaded", True)
        self._refresh_gauges()
        return True

    def _loading_should_stop(self) -> bool:
        """Called between reads of a state topic: loading a big topic is the loop being alive."""
        self.health.beat()
        return self.stopping

    def _reader(
        self, topic: str, handler: Callable[[SourceRecord], list[OutputRecord]]
    ) -> StateTopicReader:
        counter = self.metrics.state_records.labels(topic=topic)
        return StateTopicReader(
            self.settings,
            topic,
            handler,
            on_applied=counter.inc,
            on_error=lambda kind: self.metrics.broker_errors.labels(kind=kind).inc(),
        )

    def _on_consent(self, message: SourceRecord) -> list[OutputRecord]:
        outputs = self.pipeline.on_consent(message)
        deletions = sum(1 for o in outputs if o.destination == "clean" and o.value is None)
        if deletions:
            self.metrics.deletions.inc(deletions)
        return outputs

    def _side(self, outputs: list[OutputRecord]) -> None:
        assert self._settler is not None
        self._settler.send_side(outputs)

    def _subscribe(self) -> None:
        assert self._settler is not None
        self._consumer = Consumer(
            consumer_config(
                self.settings,
                stats_cb=self._stats,
                error_cb=self._client_error,
            )
            | {"on_commit": self._settler.on_commit}
        )
        self._settler.consumer = self._consumer
        self.health.set("group_joined", False, "joining the consumer group")
        self._consumer.subscribe(
            list(self.settings.topics.inputs),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )

    def _loop(self) -> None:
        assert self._consumer is not None and self._settler is not None
        settler = self._settler
        size = self.settings.processing.batch_size
        wait_s = self.settings.processing.batch_timeout_ms / 1000
        consume = self._consumer.consume
        while not self.stopping:
            self.health.beat()
            self._between_batches()
            messages = consume(size, wait_s)
            consumed_at = time.monotonic()
            records, by_partition = self._records(messages)
            if self._fatal is not None:
                raise RunnerError(f"fatal Kafka client error: {self._fatal}")
            if records:
                self._process(records, by_partition, consumed_at)
            elif settler.has_side:
                settler.settle([])
            else:
                settler.commit()
            if not self._broker_ok:
                self._recheck_broker()

    def _records(
        self, messages: list[Message]
    ) -> tuple[list[SourceRecord], dict[TopicPartitionKey, list[int]]]:
        return source_batch(messages, self._consumer_error)

    def _process(
        self,
        records: Sequence[SourceRecord],
        by_partition: dict[TopicPartitionKey, list[int]],
        consumed_at: float,
    ) -> None:
        assert self._sink is not None and self._settler is not None
        started = time.perf_counter()
        wall_consumed_at = time.time() - (time.monotonic() - consumed_at)
        if not self._broker_ok:
            self._set_broker(True)
        self._settler.begin_batch(by_partition)
        for tp, offsets in by_partition.items():
            self.metrics.records_consumed.labels(topic=tp[0]).inc(len(offsets))
        try:
            result = self.pipeline.process(records, now=time.time())
            self._sink.send(result.outputs)
        except BaseException:
            self._settler.abandon(by_partition)  # a shutdown must not commit this batch
            raise
        settled = self._settler.settle(list(by_partition))
        self.metrics.batch_duration.observe(time.perf_counter() - started)
        if settled:
            self.metrics.record_latency.observe(time.monotonic() - consumed_at, len(records))
        self.metrics.count_batch(
            decisions=result.decisions,
            rule_matches=result.rule_matches,
            deadletter_reasons=result.deadletter_reasons,
        )
        self.metrics.count_transformations(result.transformation_decisions)
        self.metrics.count_consent(known=result.consent_known, unknown=result.consent_unknown)
        routed = Counter(o.destination for o in result.outputs)
        with self._progress_lock:
            self._outputs.update(routed)
            self._decisions.update(result.decisions)
            self._progress = replace(
                self._progress,
                records_in=self._progress.records_in + len(records),
                batches=self._progress.batches + 1,
                first_batch_at=self._progress.first_batch_at or wall_consumed_at,
                last_batch_at=time.time(),
            )

    # ---- settling (see settle.py) --------------------------------------------------------------

    def _waiting(self, outstanding: int) -> bool:
        """Called while acknowledgements are late: the loop lives, the instance is not ready."""
        self.health.beat()
        self._set_broker(False, f"{outstanding} outputs waiting for acknowledgement")
        if not self.stopping:
            return True
        if self._stop_waiting_since is None:
            self._stop_waiting_since = time.monotonic()
        return time.monotonic() - self._stop_waiting_since < _SHUTDOWN_GRACE_S

    def _committed(self) -> None:
        self.metrics.last_commit.set(time.time())
        with self._progress_lock:
            self._progress = replace(self._progress, commits=self._progress.commits + 1)

    # ---- between batches -------------------------------------------------------------------------

    def _between_batches(self) -> None:
        for reader in self._readers:
            applied = reader.applied
            self._side(reader.poll())
            if reader.applied != applied:
                self._refresh_gauges()
        self._maintain_detectors()
        now = time.monotonic()
        if now < self._next_policy_poll:
            return
        self._next_policy_poll = now + self.settings.policies.reload_interval_ms / 1000
        before = self.pipeline.policy_hash
        reload = self.pipeline.poll_policy()
        if reload is None or (reload.accepted and reload.policy_hash == before):
            return  # nothing changed (e.g. a watcher's first look at the directory)
        result = "accepted" if reload.accepted else "rejected"
        self.metrics.policy_reloads.labels(result=result).inc()
        self.metrics.set_policy(reload.policy_hash)
        self._bump(policy_hash=reload.policy_hash)
        self._side(reload.outputs)
        self._refresh_gauges()

    def _maintain_detectors(self) -> None:
        proxy = self.pipeline.proxy
        if proxy is None:
            return
        maintenance = self.pipeline.maintain(time.time())
        self._side(maintenance.outputs)
        fed = proxy.panel_records - self._panel_records_counted
        if fed:
            self.metrics.detector_panel_records.inc(fed)
            self._panel_records_counted = proxy.panel_records
        if maintenance.report is not None:
            self.metrics.audit_panel_entities.set(len(proxy.panel))
            record_detector_report(self.metrics, maintenance.report)

    def _refresh_gauges(self) -> None:
        self.metrics.consent_entities.set(self.pipeline.consent_entities)
        self.metrics.set_transformations(self.pipeline.verdict_counts())
        total = sum(reader.applied for reader in self._readers)
        self._bump(state_messages=total)

    # ---- rebalancing -----------------------------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.health.set("group_joined", True)
        if partitions:
            log.info("assigned %s", ", ".join(f"{p.topic}[{p.partition}]" for p in partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Settle and commit synchronously what this instance did for the partitions it loses."""
        keys = [(p.topic, p.partition) for p in partitions]
        if self._settler is not None:
            self._settler.revoke(keys)
        if keys:
            log.info("revoked %s", ", ".join(f"{t}[{p}]" for t, p in keys))

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = [(p.topic, p.partition) for p in partitions]
        log.warning("partitions lost without revocation: %s", keys)
        if self._settler is not None:
            self._settler.lost(keys)

    # ---- errors, broker health, statistics -----------------------------------------------------

    def _consumer_error(self, error: KafkaError, message: Message) -> None:
        if error.code() == KafkaError._PARTITION_EOF:
            return
        self._client_error(error)
        log.warning("consumer error on %s[%s]: %s", message.topic(), message.partition(), error)

    def _client_error(self, error: KafkaError) -> None:
        """Count it; reflect unreachability in readiness; remember fatal errors."""
        kind = error.name().lower().lstrip("_") if isinstance(error, KafkaError) else "unknown"
        self.metrics.broker_errors.labels(kind=kind).inc()
        if isinstance(error, KafkaError):
            if error.code() in _UNREACHABLE:
                self._set_broker(False, str(error))
            if error.fatal():
                self._fatal = error

    def _set_broker(self, ok: bool, reason: str = "") -> None:
        previous = self._broker_ok
        if ok != previous or not ok:
            self.health.set("broker_reachable", ok, reason)
        if ok and previous is False:
            log.info("broker reachable again")
        elif not ok and previous is not False:
            log.warning("broker unreachable: %s", reason)
        self._broker_ok = ok

    def _recheck_broker(self) -> None:
        now = time.monotonic()
        if now < self._next_broker_check or self._consumer is None:
            return
        self._next_broker_check = now + _RECHECK_BROKER_S
        try:
            self._consumer.list_topics(timeout=1.0)
        except KafkaException:
            return
        self._set_broker(True)

    def _stats(self, stats_json: str) -> None:
        try:
            self.metrics.set_lag(parse_consumer_lag(stats_json))
        except (ValueError, TypeError):
            log.debug("unreadable librdkafka statistics", exc_info=True)

    # ---- shutdown ------------------------------------------------------------------------------

    def _shutdown(self) -> None:
        try:
            if self._settler is not None:
                if self.pipeline.proxy is not None and self._consumer is not None:
                    self._side(self.pipeline.maintain(time.time(), closing=True).outputs)
                self._settler.finish()
        except Exception:
            log.exception("could not settle the last batch; it will be consumed again")
        if self._consumer is not None:
            try:
                self._consumer.close()
            except KafkaException as exc:
                log.warning("consumer close: %s", exc)
            self._consumer = None
        if self._sink is not None:
            left = self._sink.close()
            if left:
                log.warning(
                    "%d outputs undelivered at shutdown; their inputs were not committed", left
                )
            self._sink = None
        for reader in self._readers:
            reader.close()
        if self.pipeline.proxy is not None:
            self.pipeline.proxy.close()
        self.health.stopped()
        log.info("stopped after %d records", self.progress().records_in)
