"""The commit tracker: never past an unacknowledged or failed input, in any ack order."""

from __future__ import annotations

import random

import pytest

from interceptor.stream.commits import CommitTracker

TP = ("raw", 0)
OTHER = ("raw", 1)


def test_acks_out_of_order_commit_only_the_contiguous_prefix() -> None:
    tracker = CommitTracker()
    for offset in (5, 6, 7):
        tracker.add(TP, offset)
    assert tracker.committable() == {}
    tracker.ack(TP, 5)
    assert tracker.committable() == {TP: 6}
    tracker.committed({TP: 6})
    tracker.ack(TP, 7)
    assert tracker.committable() == {}  # 6 still outstanding: stay at 6
    tracker.ack(TP, 6)
    assert tracker.committable() == {TP: 8}


def test_an_input_needs_every_output_acknowledged() -> None:
    tracker = CommitTracker()
    tracker.add(TP, 10, outputs=2)
    tracker.ack(TP, 10)
    assert tracker.committable() == {}
    tracker.ack(TP, 10)
    assert tracker.committable() == {TP: 11}


def test_input_without_outputs_is_done_at_once() -> None:
    tracker = CommitTracker()
    tracker.add(TP, 3, outputs=0)
    assert tracker.committable() == {TP: 4}


def test_failure_is_never_committed_past_and_rewinds_there() -> None:
    tracker = CommitTracker()
    tracker.add_many(TP, range(100, 110))
    tracker.add_many(OTHER, range(0, 5))
    tracker.fail(TP, 104)
    tracker.ack_all()
    assert tracker.committable() == {TP: 104, OTHER: 5}
    tracker.committed({TP: 104, OTHER: 5})
    assert tracker.rewind() == {TP: 104}
    assert not tracker.has_failures
    # consumed again from 104: registering it is in order again
    tracker.add_many(TP, range(104, 110))
    tracker.ack_all()
    assert tracker.committable() == {TP: 110}


def test_lowest_failure_wins() -> None:
    tracker = CommitTracker()
    tracker.add_many(TP, range(10))
    tracker.fail(TP, 7)
    tracker.fail(TP, 3)
    tracker.fail(TP, 5)
    tracker.ack_all()
    assert tracker.committable() == {TP: 3}


def test_unattributed_failure_pins_the_oldest_pending_input() -> None:
    tracker = CommitTracker()
    tracker.add_many(TP, range(20, 30))
    tracker.fail_partition(TP)
    tracker.ack_all()
    assert tracker.committable() == {}  # 20 is where the group resumed anyway
    assert tracker.rewind() == {TP: 20}


def test_revoked_partition_is_forgotten_and_late_reports_are_ignored() -> None:
    tracker = CommitTracker()
    tracker.add_many(TP, range(5))
    tracker.add_many(OTHER, range(5))
    tracker.revoke([TP])
    tracker.ack(TP, 1)
    tracker.fail(TP, 2)
    tracker.ack_all()
    assert tracker.committable() == {OTHER: 5}
    assert tracker.partitions() == [OTHER]


def test_already_committed_offsets_are_not_offered_again() -> None:
    tracker = CommitTracker()
    tracker.add_many(TP, range(3))
    tracker.ack_all()
    tracker.committed({TP: 3})
    assert tracker.committable() == {}
    tracker.commit_failed([TP])
    assert tracker.committable() == {TP: 3}


def test_out_of_order_registration_is_a_bug() -> None:
    tracker = CommitTracker()
    tracker.add(TP, 5)
    with pytest.raises(ValueError, match="out of order"):
        tracker.add(TP, 5)
    with pytest.raises(ValueError, match="out of order"):
        tracker.add_many(TP, [4])


def test_gaps_in_offsets_are_allowed() -> None:
    tracker = CommitTracker()
    tracker.add_many(TP, [1, 4, 9])  # compaction and transaction markers leave gaps
    tracker.ack(TP, 1)
    tracker.ack(TP, 4)
    assert tracker.committable() == {TP: 9}
    tracker.ack(TP, 9)
    assert tracker.committable() == {TP: 10}


@pytest.mark.parametrize("seed", range(20))
def test_random_ack_orders_match_an_oracle(seed: int) -> None:
    rng = random.Random(seed)
    tracker = CommitTracker()
    offsets = sorted(rng.sample(range(1000), 40))
    outputs = {o: rng.randint(1, 3) for o in offsets}
    for o in offsets:
        tracker.add(TP, o, outputs[o])
    acks = [o for o in offsets for _ in range(outputs[o])]
    rng.shuffle(acks)
    failed = rng.choice(offsets) if seed % 2 else None
    remaining = dict(outputs)
    last = offsets[0]  # where the group resumed
    for o in acks:
        if o == failed:
            tracker.fail(TP, o)
            continue
        tracker.ack(TP, o)
        remaining[o] -= 1
        blocked = [x for x in offsets if remaining[x] > 0 or x == failed]
        safe = blocked[0] if blocked else offsets[-1] + 1
        got = tracker.committable().get(TP)
        assert got == (safe if safe > last else None)
        if got is not None:
            tracker.committed({TP: got})
            last = got
    if failed is not None:
        assert last <= failed
        assert tracker.rewind() == {TP: failed}
    else:
        assert last == offsets[-1] + 1
