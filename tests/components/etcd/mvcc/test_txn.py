"""Txn: compares, branches, nesting, one revision per txn, request checks."""

from __future__ import annotations

import pytest

from kubesim.components.etcd import errors
from kubesim.components.etcd.mvcc.store import KVStore, check_txn


def put(key, value=b"v", **kw):
    return {"request_put": {"key": key, "value": value, **kw}}


def get(key, **kw):
    return {"request_range": {"key": key, **kw}}


def delete(key, **kw):
    return {"request_delete_range": {"key": key, **kw}}


def txn(compare=(), success=(), failure=()):
    return {"compare": list(compare), "success": list(success), "failure": list(failure)}


def cmp(key, target, result, **operand):
    return {"key": key, "target": target, "result": result, **operand}


def raises(err, fn, *args):
    with pytest.raises(type(err)) as e:
        fn(*args)
    assert e.value == err


@pytest.fixture
def store():
    s = KVStore()
    s.put({"key": b"a", "value": b"1"})  # 2
    s.put({"key": b"b", "value": b"2"})  # 3
    s.put({"key": b"a", "value": b"3"})  # 4
    s.drain_events()
    return s


def test_writes_share_one_revision_and_later_ops_see_earlier_writes(store):
    resp = store.txn(
        txn(success=[get(b"c"), put(b"c", b"x"), get(b"c"), delete(b"b", prev_kv=True), put(b"d")])
    )
    assert resp["header"] == {"revision": 5} and resp["succeeded"]
    r = resp["responses"]
    assert r[0]["response_range"]["kvs"] == [] and r[0]["response_range"]["header"] == {
        "revision": 4
    }
    assert r[1]["response_put"] == {"header": {"revision": 5}, "prev_kv": None}
    assert r[2]["response_range"]["kvs"][0]["mod_revision"] == 5
    assert r[2]["response_range"]["header"] == {"revision": 5}
    assert r[3]["response_delete_range"]["deleted"] == 1
    assert r[3]["response_delete_range"]["prev_kvs"][0]["value"] == b"2"
    events = store.drain_events()
    assert [(e.type, e.kv.key, e.kv.mod_revision) for e in events] == [
        ("PUT", b"c", 5),
        ("DELETE", b"b", 5),
        ("PUT", b"d", 5),
    ]
    assert store.revision == 5


def test_read_only_txn_does_not_bump_revision(store):
    resp = store.txn(txn(success=[get(b"a")]))
    assert resp["header"] == {"revision": 4}
    assert store.revision == 4
    # a txn whose delete finds nothing is read-only too
    assert store.txn(txn(success=[delete(b"zz")]))["header"] == {"revision": 4}


@pytest.mark.parametrize(
    "compare, ok",
    [
        (cmp(b"a", "VALUE", "EQUAL", value=b"3"), True),
        (cmp(b"a", "VALUE", "GREATER", value=b"2"), True),
        (cmp(b"a", "VALUE", "LESS", value=b"2"), False),
        (cmp(b"a", "VALUE", "NOT_EQUAL", value=b"3"), False),
        (cmp(b"a", "VERSION", "EQUAL", version=2), True),
        (cmp(b"a", "CREATE", "EQUAL", create_revision=2), True),
        (cmp(b"a", "MOD", "GREATER", mod_revision=3), True),
        (cmp(b"a", "LEASE", "EQUAL", lease=0), True),
        # missing key: zero KeyValue, except VALUE which always fails
        (cmp(b"zz", "VERSION", "EQUAL", version=0), True),
        (cmp(b"zz", "CREATE", "EQUAL", create_revision=0), True),
        (cmp(b"zz", "VALUE", "EQUAL", value=b""), False),
        (cmp(b"zz", "VALUE", "NOT_EQUAL", value=b"x"), False),
        # operand under the wrong oneof name counts as 0
        (cmp(b"a", "VERSION", "EQUAL", mod_revision=2), False),
        (cmp(b"a", "VERSION", "GREATER", mod_revision=2), True),
        # defaults: target VERSION, result EQUAL
        ({"key": b"zz"}, True),
        # ranges: every key must satisfy the compare
        (cmp(b"a", "MOD", "GREATER", mod_revision=2, range_end=b"c"), True),
        (cmp(b"a", "MOD", "GREATER", mod_revision=3, range_end=b"c"), False),
        (cmp(b"a", "VERSION", "GREATER", version=0, range_end=b"\0"), True),
        (cmp(b"x", "VERSION", "EQUAL", version=0, range_end=b"\0"), True),
        (cmp(b"x", "VALUE", "EQUAL", value=b"", range_end=b"\0"), False),
    ],
)
def test_compares(store, compare, ok):
    resp = store.txn(txn([compare], [get(b"a")], [get(b"b")]))
    assert resp["succeeded"] is ok
    assert resp["responses"][0]["response_range"]["kvs"][0]["key"] == (b"a" if ok else b"b")


def test_all_compares_must_hold(store):
    resp = store.txn(
        txn(
            [cmp(b"a", "VALUE", "EQUAL", value=b"3"), cmp(b"b", "VALUE", "EQUAL", value=b"nope")],
            [put(b"s")],
            [put(b"f")],
        )
    )
    assert not resp["succeeded"]
    assert store.get(b"f") is not None and store.get(b"s") is None


def test_nested_txns_compare_against_the_state_before_the_txn(store):
    inner = txn(
        [cmp(b"n", "VERSION", "EQUAL", version=0)], [put(b"inner-ok")], [put(b"inner-fail")]
    )
    resp = store.txn(txn(success=[put(b"n"), {"request_txn": inner}, get(b"n")]))
    nested = resp["responses"][1]["response_txn"]
    # "n" was written earlier in the same txn, yet the nested compare sees it absent
    assert nested["succeeded"] is True
    assert nested["header"] == {"revision": 0}
    assert nested["responses"][0]["response_put"]["header"] == {"revision": 5}
    assert store.get(b"inner-ok") is not None
    assert resp["responses"][2]["response_range"]["count"] == 1
    assert resp["header"] == {"revision": 5}


def test_txn_put_checks_run_before_any_write(store):
    raises(errors.LEASE_NOT_FOUND, store.txn, txn(success=[put(b"x"), put(b"y", lease=5)]))
    raises(
        errors.KEY_NOT_FOUND,
        store.txn,
        txn(success=[put(b"x"), put(b"zz", b"", ignore_value=True)]),
    )
    # only the chosen path is checked
    store.txn(txn([cmp(b"a", "VALUE", "EQUAL", value=b"3")], [put(b"x")], [put(b"y", lease=5)]))
    assert store.revision == 5
    store.lease_grant({"ID": 5, "TTL": 10})
    store.txn(txn(success=[put(b"k", lease=5), put(b"b", b"", ignore_value=True)]))
    assert store.get(b"k").lease == 5 and store.get(b"b").value == b"2"


def test_txn_range_revision_checks(store):
    raises(errors.FUTURE_REV, store.txn, txn(success=[put(b"x"), get(b"a", revision=5)]))
    store.compact({"revision": 3})
    raises(errors.COMPACTED, store.txn, txn(success=[get(b"a", revision=2)]))
    resp = store.txn(txn(success=[get(b"a", revision=3)]))
    assert resp["responses"][0]["response_range"]["kvs"][0]["value"] == b"1"


def test_check_txn_too_many_ops():
    ok = txn(success=[put(bytes([i])) for i in range(128)])
    check_txn(ok)
    raises(errors.TOO_MANY_OPS, check_txn, txn(failure=[get(b"a")] * 129))
    raises(errors.TOO_MANY_OPS, check_txn, txn(compare=[{"key": b"a"}] * 129))
    # nested txns get what the outer level leaves over
    nested = txn(success=[{"request_txn": txn(success=[get(b"a")] * 2)}] * 126)
    check_txn(nested)
    nested = txn(success=[{"request_txn": txn(success=[get(b"a")] * 2)}] * 127)
    raises(errors.TOO_MANY_OPS, check_txn, nested)
    raises(errors.TOO_MANY_OPS, check_txn, txn(success=[put(b"a"), put(b"b")]), 1)


def test_check_txn_request_checks():
    raises(errors.EMPTY_KEY, check_txn, txn(compare=[{"key": b""}]))
    raises(errors.EMPTY_KEY, check_txn, txn(success=[get(b"")]))
    raises(errors.KEY_NOT_FOUND, check_txn, txn(success=[{}]))
    raises(errors.VALUE_PROVIDED, check_txn, txn(failure=[put(b"a", b"x", ignore_value=True)]))


@pytest.mark.parametrize(
    "ops",
    [
        [put(b"a"), put(b"a")],
        [put(b"a"), delete(b"a")],
        [delete(b"a", range_end=b"c"), put(b"b")],
        [{"request_txn": txn(success=[put(b"a")])}, put(b"a")],
        [{"request_txn": txn(success=[delete(b"a")])}, put(b"a")],
        [delete(b"a"), {"request_txn": txn(failure=[put(b"a")])}],
        [{"request_txn": txn(success=[put(b"a")])}, {"request_txn": txn(success=[put(b"a")])}],
    ],
)
def test_check_txn_duplicate_keys(ops):
    raises(errors.DUPLICATE_KEY, check_txn, txn(success=ops))
    raises(errors.DUPLICATE_KEY, KVStore().txn, txn(failure=ops))


@pytest.mark.parametrize(
    "ops",
    [
        [put(b"a"), put(b"b")],
        [delete(b"a"), delete(b"a", range_end=b"c")],
        [delete(b"a", range_end=b"c"), put(b"c")],
        # then/else of one nested txn may write the same key
        [{"request_txn": txn(success=[put(b"a")], failure=[put(b"a")])}],
        # etcd's interval check treats range_end "\0" literally: no overlap found
        [delete(b"a", range_end=b"\0"), put(b"b")],
    ],
)
def test_check_txn_allowed_overlaps(ops):
    check_txn(txn(success=ops))


def test_duplicate_deletes_in_one_txn(store):
    resp = store.txn(txn(success=[delete(b"a"), delete(b"a", range_end=b"c")]))
    assert [r["response_delete_range"]["deleted"] for r in resp["responses"]] == [1, 1]
    assert resp["header"] == {"revision": 5}
    assert store.keys_total() == 0
