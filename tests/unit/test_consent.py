"""The consent store follows the compacted topic, and malformed messages change nothing."""

from __future__ import annotations

import math

import orjson

from interceptor.consent import UNREADABLE_STATE, ConsentState, ConsentStore


def test_apply_sets_forgets_and_reports_new_deletions() -> None:
    store = ConsentStore()
    assert store.apply(b"u-1", orjson.dumps({"gpc": True, "age": 15})).newly_deleted is False
    assert store.get("u-1") == ConsentState(gpc=True, age=15)
    assert store.apply(b"u-1", orjson.dumps({"deleted": True})).newly_deleted is True
    assert store.apply(b"u-1", orjson.dumps({"deleted": True})).newly_deleted is False
    store.apply(b"u-1", None)
    assert store.get("u-1") is None
    assert len(store) == 0


def test_malformed_messages_fail_closed() -> None:
    store = ConsentStore()
    store.apply(b"u-1", orjson.dumps({"age": 30}))
    for value in (b"not json", orjson.dumps({"gpc": "yes"}), orjson.dumps({"age": "old"})):
        update = store.apply(b"u-1", value)
        assert update.error and "treated as opted out" in update.error
        assert store.get("u-1") == UNREADABLE_STATE
    assert store.apply(None, b"{}").error == "consent message without a key"


def test_unknown_fields_are_ignored_not_fatal() -> None:
    store = ConsentStore()
    update = store.apply(b"u-1", orjson.dumps({"gpc": True, "new_upstream_field": 1}))
    assert update.error is None
    assert store.get("u-1") == ConsentState(gpc=True)


def test_nothing_undoes_a_deletion() -> None:
    store = ConsentStore()
    assert store.apply(b"u-1", orjson.dumps({"deleted": True})).newly_deleted
    store.apply(b"u-1", None)
    assert store.is_deleted("u-1")
    assert not store.apply(b"u-1", orjson.dumps({"deleted": False})).newly_deleted
    assert store.columns(["u-1"]).deleted.tolist() == [True]
    store.apply(b"u-1", b"garbage")
    assert store.columns(["u-1"]).deleted.tolist() == [True]


def test_columns_line_up_with_the_entities_asked_for() -> None:
    store = ConsentStore()
    store.put("a", ConsentState(opt_out_sale_share=True, age=40))
    store.put("c", ConsentState(limit_spi=True, deleted=True))
    columns = store.columns(["a", "b", "c", "a"])
    assert columns.known.tolist() == [True, False, True, True]
    assert columns.opt_out_sale_share.tolist() == [True, False, False, True]
    assert columns.limit_spi.tolist() == [False, False, True, False]
    assert columns.deleted.tolist() == [False, False, True, False]
    assert columns.age[0] == 40 and math.isnan(columns.age[1]) and math.isnan(columns.age[2])
