"""What may be committed: per partition, the end of the run of fully acknowledged inputs.

The commit offset of a partition is one past the highest offset such that every input at or below
it has all its outputs acknowledged by the broker. Inputs are registered in offset order (the order
the consumer returns them); acknowledgements may arrive in any order. A failed output pins its
partition at that input until :meth:`CommitTracker.rewind` hands the offset back for a seek: the
input and everything after it is consumed again (at-least-once; duplicates possible, loss not).

Pure bookkeeping, no Kafka import: the runner drives it and the unit tests drive it the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["CommitTracker", "TopicPartitionKey"]

TopicPartitionKey = tuple[str, int]


@dataclass(slots=True)
class _Partition:
    """Inputs of one partition that are registered but not yet committed."""

    committed: int | None = None  # next offset the group will resume from, as last committed
    high: int | None = None  # highest registered offset
    pending: dict[int, int] = field(default_factory=dict)  # offset -> unacknowledged outputs
    failed: int | None = None  # lowest offset with a failed output

    def safe_offset(self) -> int | None:
        """One past the highest offset up to which everything is acknowledged."""
        blockers = []
        if self.pending:
            blockers.append(min(self.pending))
        if self.failed is not None:
            blockers.append(self.failed)
        if blockers:
            return min(blockers)
        return None if self.high is None else self.high + 1


class CommitTracker:
    """Per-partition ledger of inputs and their outstanding outputs."""

    def __init__(self) -> None:
        self._parts: dict[TopicPartitionKey, _Partition] = {}

    def _part(self, tp: TopicPartitionKey, first: int) -> _Partition:
        part = self._parts.get(tp)
        if part is None:
            # The first input seen is where the group resumed: committing it would change nothing.
            part = self._parts[tp] = _Partition(committed=first)
        return part

    def add(self, tp: TopicPartitionKey, offset: int, outputs: int = 1) -> None:
        """Register an input; ``outputs`` acknowledgements are needed before it is done."""
        part = self._part(tp, offset)
        if part.high is not None and offset <= part.high:
            raise ValueError(f"offset {offset} of {tp} registered out of order (after {part.high})")
        part.high = offset
        if outputs > 0:
            part.pending[offset] = outputs

    def add_many(self, tp: TopicPartitionKey, offsets: Iterable[int]) -> None:
        """Register inputs that each wait for one acknowledgement (a batch settled as a whole)."""
        ordered = sorted(offsets)
        if not ordered:
            return
        part = self._part(tp, ordered[0])
        if part.high is not None and ordered[0] <= part.high:
            raise ValueError(f"offset {ordered[0]} of {tp} registered out of order")
        part.pending.update(dict.fromkeys(ordered, 1))
        part.high = ordered[-1]

    def ack(self, tp: TopicPartitionKey, offset: int, count: int = 1) -> None:
        """``count`` outputs of the input at ``offset`` were acknowledged."""
        part = self._parts.get(tp)
        if part is None or offset not in part.pending:
            return  # a late report for a revoked partition or an input already settled
        left = part.pending[offset] - count
        if left > 0:
            part.pending[offset] = left
        else:
            del part.pending[offset]

    def ack_all(self) -> None:
        """Every output produced so far was acknowledged (a flush that reported no failure)."""
        for part in self._parts.values():
            part.pending.clear()

    def fail(self, tp: TopicPartitionKey, offset: int) -> None:
        """An output of the input at ``offset`` was not delivered: never commit past it."""
        part = self._parts.get(tp)
        if part is None:
            return
        if part.failed is None or offset < part.failed:
            part.failed = offset

    def fail_partition(self, tp: TopicPartitionKey) -> None:
        """A failure whose input is unknown: pin the partition at its oldest pending input."""
        part = self._parts.get(tp)
        if part is None:
            return
        floor = part.safe_offset()
        if floor is not None and (part.failed is None or floor < part.failed):
            part.failed = floor

    @property
    def has_failures(self) -> bool:
        return any(part.failed is not None for part in self._parts.values())

    @property
    def has_pending(self) -> bool:
        return any(part.pending for part in self._parts.values())

    def committable(
        self, partitions: Iterable[TopicPartitionKey] | None = None
    ) -> dict[TopicPartitionKey, int]:
        """Offsets to commit now: only partitions whose safe offset moved past the last commit."""
        keys = self._parts.keys() if partitions is None else partitions
        result: dict[TopicPartitionKey, int] = {}
        for tp in keys:
            part = self._parts.get(tp)
            if part is None:
                continue
            safe = part.safe_offset()
            if safe is not None and (part.committed is None or safe > part.committed):
                result[tp] = safe
        return result

    def committed(self, offsets: Mapping[TopicPartitionKey, int]) -> None:
        """The broker accepted these commit offsets."""
        for tp, offset in offsets.items():
            part = self._parts.get(tp)
            if part is not None and (part.committed is None or offset > part.committed):
                part.committed = offset

    def commit_failed(self, partitions: Iterable[TopicPartitionKey]) -> None:
        """An (asynchronous) commit was refused: offer those partitions' offsets again."""
        for tp in partitions:
            part = self._parts.get(tp)
            if part is not None:
                part.committed = None

    def rewind(self) -> dict[TopicPartitionKey, int]:
        """For every partition with a failure: the offset to seek back to; its ledger is reset.

        The offset is the first failed input (or an earlier unacknowledged one), so everything
        from there on is consumed and produced again. Call after committing what is safe.
        """
        seeks: dict[TopicPartitionKey, int] = {}
        for tp, part in self._parts.items():
            if part.failed is None:
                continue
            seek = part.safe_offset()
            assert seek is not None
            seeks[tp] = seek
            part.pending.clear()
            part.failed = None
            part.high = seek - 1
        return seeks

    def reset(self, tp: TopicPartitionKey, offset: int) -> None:
        """Forget pending inputs; the consumer resumes ``tp`` at ``offset`` (after a seek)."""
        part = self._part(tp, offset)
        part.pending.clear()
        part.failed = None
        part.high = offset - 1

    def revoke(self, partitions: Iterable[TopicPartitionKey]) -> None:
        """Forget partitions this instance no longer owns."""
        for tp in partitions:
            self._parts.pop(tp, None)

    def partitions(self) -> list[TopicPartitionKey]:
        return list(self._parts)
