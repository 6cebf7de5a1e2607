"""The consent store follows the compacted topic, and malformed messages change nothing."""

from __future__ import annotations

import math

import orjson

from interceptor.consent import ConsentState, ConsentStore


def test_apply_sets_forgets_and_reports_new_deletions() -> None:
    store = ConsentStore()
    assert store.apply(b"u-1", orjson.dumps({"gpc": True, "age": 15})).newly_deleted is False
    assert store.get("u-1") == ConsentState(gpc=True, age=15)
    assert store.apply(b"u-1", orjson.dumps({"deleted": True})).newly_deleted is True
    assert store.apply(b"u-1", orjson.dumps({"deleted": True})).newly_deleted is False
    store.apply(b"u-1", None)
    assert store.get("u-1") is None
    assert len(store) == 0


def test_malformed_messages_keep_the_previous_state() -> None:
    store = ConsentStore()
    store.apply(b"u-1", orjson.dumps({"opt_out_sale_share": True}))
    for value in (b"not json", orjson.dumps({"gpc": "yes"}), orjson.dumps({"typo": True})):
        update = store.apply(b"u-1", value)
        assert update.error
    assert store.apply(None, b"{}").error == "consent message without a key"
    assert store.get("u-1") == ConsentState(opt_out_sale_share=True)


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
