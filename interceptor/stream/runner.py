"""The consume → decide → produce → acknowledge → commit loop.

One thread does everything, in this order per iteration: apply new state-topic messages and policy
reloads, consume a batch, decide it with the pipeline, produce the outputs, and make the batch
durable (:mod:`interceptor.stream.settle`: acknowledgements before commits at-least-once, one
transaction per batch exactly-once). State topics (consent, transformation registry) are read
whole before the first batch (:mod:`interceptor.stream.statesync`), so a record is always decided
with the consent state known when it was read. Rebalances settle and commit synchronously for the
partitions that leave (:mod:`interceptor.stream.rebalance`); broker trouble is reflected in
readiness and metrics (:mod:`interceptor.stream.connectivity`); detector evaluations and snapshots
run between batches (:mod:`interceptor.stream.upkeep`).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from typing import Final

from confluent_kafka import Consumer, KafkaException

from interceptor.config import Settings
from interceptor.envelope import OutputRecord
from interceptor.errors import InterceptorError
from interceptor.health import HealthState
from interceptor.metrics import Metrics, parse_consumer_lag
from interceptor.stream.admin import BrokerUnavailableError, ensure_topics, wait_until_ready
from interceptor.stream.batches import BatchProcessor
from interceptor.stream.clients import admin_config, consumer_config
from interceptor.stream.connectivity import BrokerStatus
from interceptor.stream.convert import source_batch
from interceptor.stream.progress import ProgressBook, RunnerProgress
from interceptor.stream.protocols import PipelineLike
from interceptor.stream.rebalance import RebalanceListener
from interceptor.stream.reloads import PolicyReloads
from interceptor.stream.settle import SettleError, Settler
from interceptor.stream.sink import OutputSink
from interceptor.stream.statesync import StateSync
from interceptor.stream.upkeep import DetectorUpkeep

__all__ = ["Runner", "RunnerError", "RunnerProgress"]

log = logging.getLogger(__name__)

_SHUTDOWN_GRACE_S: Final = 10.0


class RunnerError(InterceptorError, RuntimeError):
    """The loop cannot continue (a fatal client error); nothing uncommitted is lost."""


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
        self._broker = BrokerStatus(metrics, self.health)
        self._book = ProgressBook()
        self._state = StateSync(
            settings,
            pipeline,
            metrics,
            self.health,
            send_side=self._send_side,
            on_change=self._refresh_gauges,
        )
        self._reloads = PolicyReloads(
            pipeline,
            metrics,
            interval_s=settings.policies.reload_interval_ms / 1000,
            send_side=self._send_side,
            on_change=self._policy_changed,
        )
        self._upkeep = DetectorUpkeep(pipeline, metrics, send_side=self._send_side)
        self._consumer: Consumer | None = None
        self._settler: Settler | None = None
        self._stop_waiting_since: float | None = None

    # ---- control -------------------------------------------------------------------------------

    def request_stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        ext = self._external_stop
        return self._stop.is_set() or (ext is not None and ext.is_set())

    def progress(self) -> RunnerProgress:
        rewinds = self._settler.rewinds if self._settler is not None else 0
        return self._book.snapshot(rewinds=rewinds)

    # ---- run -----------------------------------------------------------------------------------

    def run(self, stop_event: threading.Event | None = None) -> None:
        """Connect, load state, then process batches until stopped."""
        self._external_stop = stop_event
        self._book.set(started_at=time.time(), policy_hash=self.pipeline.policy_hash)
        self.metrics.set_policy(self.pipeline.policy_hash)
        try:
            if not self._connect():
                return
            self._settler = Settler(
                self._new_sink(),
                exactly_once=self._exactly_once,
                commit_interval_s=self.settings.processing.commit_interval_ms / 1000,
                on_waiting=self._waiting,
                on_committed=self._committed,
                on_error=self._broker.client_error,
                new_sink=self._new_sink,
                on_producer_restart=lambda: self._book.add(producer_restarts=1),
            )
            self._settler.send_side(self.pipeline.startup())
            if not self._state.load(lambda: self.stopping):
                return
            # What exists now (policy, manifests, consent state) lives as long as the process:
            # keep it out of the cyclic collector's scans, which otherwise grow with the state
            # and land on whichever record happens to allocate next.
            gc.freeze()
            self._settler.settle([])
            self._subscribe(self._settler)
            self._loop(self._settler)
        except SettleError as exc:
            raise RunnerError(str(exc)) from exc
        finally:
            self._shutdown()

    def _new_sink(self) -> OutputSink:
        """A producer for the outputs. Its fatal errors are the settler's to act on (it replaces
        the producer), so they are only counted here."""
        sink = OutputSink(
            self.settings, transactional=self._exactly_once, on_error=self._broker.counting_only
        )
        try:
            sink.init()
        except BaseException:
            sink.discard()
            raise
        return sink

    def _connect(self) -> bool:
        while not self.stopping:
            try:
                wait_until_ready(
                    self.settings.kafka.bootstrap_servers, 5.0, config=admin_config(self.settings)
                )
                break
            except BrokerUnavailableError as exc:
                self._broker.set(False, str(exc))
                self.health.beat()
        else:
            return False
        self._broker.set(True)
        if self.settings.topics.create_missing:
            ensure_topics(self.settings)
        return True

    def _send_side(self, outputs: list[OutputRecord]) -> None:
        assert self._settler is not None
        self._settler.send_side(outputs)

    def _subscribe(self, settler: Settler) -> None:
        self._consumer = Consumer(
            consumer_config(self.settings, stats_cb=self._stats, error_cb=self._broker.client_error)
            | {"on_commit": settler.on_commit}
        )
        settler.consumer = self._consumer
        listener = RebalanceListener(settler, self.health)
        self.health.set("group_joined", False, "joining the consumer group")
        self._consumer.subscribe(
            list(self.settings.topics.inputs),
            on_assign=listener.on_assign,
            on_revoke=listener.on_revoke,
            on_lost=listener.on_lost,
        )

    def _loop(self, settler: Settler) -> None:
        consumer = self._consumer
        assert consumer is not None
        batches = BatchProcessor(self.pipeline, settler, self.metrics, self._book)
        size = self.settings.processing.batch_size
        wait_s = self.settings.processing.batch_timeout_ms / 1000
        consume = consumer.consume
        broker = self._broker
        while not self.stopping:
            self.health.beat()
            self._state.poll()
            self._upkeep.poll()
            self._reloads.poll()
            messages = consume(size, wait_s)
            consumed_at = time.monotonic()
            records, by_partition = source_batch(messages, broker.consumer_error)
            if broker.fatal is not None:
                raise RunnerError(f"fatal Kafka client error: {broker.fatal}")
            if records:
                if not broker.ok:
                    broker.set(True)
                batches.run(records, by_partition, consumed_at)
            elif settler.has_side:
                settler.settle([])
            else:
                settler.commit()
            if not broker.ok:
                broker.recheck(lambda: consumer.list_topics(timeout=1.0))

    # ---- callbacks -----------------------------------------------------------------------------

    def _waiting(self, outstanding: int) -> bool:
        """Called while acknowledgements are late: the loop lives, the instance is not ready."""
        self.health.beat()
        self._broker.set(False, f"{outstanding} outputs waiting for acknowledgement")
        if not self.stopping:
            return True
        if self._stop_waiting_since is None:
            self._stop_waiting_since = time.monotonic()
        return time.monotonic() - self._stop_waiting_since < _SHUTDOWN_GRACE_S

    def _committed(self) -> None:
        self.metrics.last_commit.set(time.time())
        self._book.add(commits=1)

    def _policy_changed(self, policy_hash: str) -> None:
        self._book.set(policy_hash=policy_hash)
        self._refresh_gauges()

    def _refresh_gauges(self) -> None:
        self.metrics.consent_entities.set(self.pipeline.consent_entities)
        self.metrics.set_transformations(self.pipeline.verdict_counts())
        self._book.set(state_messages=self._state.applied)

    def _stats(self, stats_json: str) -> None:
        try:
            self.metrics.set_lag(parse_consumer_lag(stats_json))
        except (ValueError, TypeError):
            log.debug("unreadable librdkafka statistics", exc_info=True)

    # ---- shutdown ------------------------------------------------------------------------------

    def _shutdown(self) -> None:
        settler = self._settler
        try:
            if settler is not None:
                if self._consumer is not None:
                    self._upkeep.closing()
                settler.finish()
        except Exception:
            log.exception("could not settle the last batch; it will be consumed again")
        if self._consumer is not None:
            try:
                self._consumer.close()
            except KafkaException as exc:
                log.warning("consumer close: %s", exc)
            self._consumer = None
        if settler is not None:
            left = settler.sink.close()
            if left:
                log.warning(
                    "%d outputs undelivered at shutdown; their inputs were not committed", left
                )
        self._state.close()
        self._upkeep.close()
        self.health.stopped()
        log.info("stopped after %d records", self.progress().records_in)
