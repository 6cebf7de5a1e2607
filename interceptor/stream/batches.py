"""One consumed batch: decide it, send its outputs, make it durable, count it.

A batch whose pipeline call raises is not allowed to stop the loop, nor to go out undecided: the
pipeline's ``fallback`` routes it (quarantine with rule ``evaluation-fault``, or flagged forwarding
when configured to fail open), and it is settled like any other batch. Only if the fallback or the
hand-over to the producer raises too is the batch abandoned (never committed) and the error raised.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence

from interceptor.envelope import SourceRecord
from interceptor.metrics import Metrics
from interceptor.stream.commits import TopicPartitionKey
from interceptor.stream.progress import ProgressBook
from interceptor.stream.protocols import BatchOutcome, PipelineLike
from interceptor.stream.settle import Settler

__all__ = ["BatchProcessor"]

log = logging.getLogger(__name__)


class BatchProcessor:
    """Runs the pipeline on a batch and settles the result."""

    def __init__(
        self,
        pipeline: PipelineLike,
        settler: Settler,
        metrics: Metrics,
        progress: ProgressBook,
    ) -> None:
        self._pipeline = pipeline
        self._settler = settler
        self._metrics = metrics
        self._progress = progress

    def run(
        self,
        records: Sequence[SourceRecord],
        by_partition: dict[TopicPartitionKey, list[int]],
        consumed_at: float,
    ) -> bool:
        """Process and settle one batch; False if it will be consumed again."""
        started = time.perf_counter()
        wall_consumed_at = time.time() - (time.monotonic() - consumed_at)
        settler = self._settler
        settler.begin_batch(by_partition)
        for tp, offsets in by_partition.items():
            self._metrics.records_consumed.labels(topic=tp[0]).inc(len(offsets))
        try:
            result = self._decide(records)
            settler.send(result.outputs)
        except BaseException:
            settler.abandon(by_partition)  # a shutdown must not commit this batch
            raise
        settled = settler.settle(list(by_partition))
        self._metrics.batch_duration.observe(time.perf_counter() - started)
        if settled:
            self._metrics.record_latency.observe(time.monotonic() - consumed_at, len(records))
        self._metrics.count_batch(
            decisions=result.decisions,
            rule_matches=result.rule_matches,
            deadletter_reasons=result.deadletter_reasons,
        )
        self._metrics.count_transformations(result.transformation_decisions)
        self._metrics.count_consent(known=result.consent_known, unknown=result.consent_unknown)
        self._progress.batch(
            records=len(records),
            routed=Counter(o.destination for o in result.outputs),
            decisions=result.decisions,
            consumed_at=wall_consumed_at,
            settled_at=time.time(),
        )
        return settled

    def _decide(self, records: Sequence[SourceRecord]) -> BatchOutcome:
        try:
            return self._pipeline.process(records, now=time.time())
        except Exception:
            first = records[0]
            log.exception(
                "the pipeline raised on a batch of %d records (first %s[%d]@%d); "
                "routing it by the evaluation-fault fallback",
                len(records),
                first.topic,
                first.partition,
                first.offset,
            )
            self._progress.add(evaluation_faults=1)
            return self._pipeline.fallback(records, now=time.time())
