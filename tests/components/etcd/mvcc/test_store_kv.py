"""KVStore range, put, delete_range and compact: etcd 3.4 semantics with concrete revisions."""

from __future__ import annotations

import pytest

from kubesim.components.etcd import errors
from kubesim.components.etcd.mvcc.store import KVStore


def kv(key, create, mod, version, value, lease=0):
    return {
        "key": key,
        "create_revision": create,
        "mod_revision": mod,
        "version": version,
        "value": value,
        "lease": lease,
    }


def keys(resp):
    return [k["key"] for k in resp["kvs"]]


@pytest.fixture
def store():
    return KVStore()


def test_fresh_store_is_at_revision_1(store):
    assert store.revision == 1
    assert store.compact_revision == -1
    assert store.range({"key": b"a"}) == {
        "header": {"revision": 1},
        "kvs": [],
        "more": False,
        "count": 0,
    }


def test_put_creates_then_updates(store):
    assert store.put({"key": b"a", "value": b"1"}) == {"header": {"revision": 2}, "prev_kv": None}
    assert store.put({"key": b"a", "value": b"2", "prev_kv": True}) == {
        "header": {"revision": 3},
        "prev_kv": kv(b"a", 2, 2, 1, b"1"),
    }
    assert store.range({"key": b"a"})["kvs"] == [kv(b"a", 2, 3, 2, b"2")]
    # reads at older revisions
    assert store.range({"key": b"a", "revision": 2})["kvs"] == [kv(b"a", 2, 2, 1, b"1")]
    assert store.range({"key": b"a", "revision": 1})["kvs"] == []
    assert store.range({"key": b"a", "revision": 2})["header"] == {"revision": 3}


def test_delete_then_recreate_starts_new_generation(store):
    store.put({"key": b"a", "value": b"1"})  # 2
    store.put({"key": b"a", "value": b"2"})  # 3
    resp = store.delete_range({"key": b"a", "prev_kv": True})  # 4
    assert resp == {"header": {"revision": 4}, "deleted": 1, "prev_kvs": [kv(b"a", 2, 3, 2, b"2")]}
    assert store.range({"key": b"a"})["kvs"] == []
    store.put({"key": b"a", "value": b"3"})  # 5
    assert store.range({"key": b"a"})["kvs"] == [kv(b"a", 5, 5, 1, b"3")]
    assert store.range({"key": b"a", "revision": 3})["kvs"] == [kv(b"a", 2, 3, 2, b"2")]
    assert store.range({"key": b"a", "revision": 4})["kvs"] == []


def test_delete_of_nothing_does_not_bump_revision(store):
    store.put({"key": b"a", "value": b"1"})
    assert store.delete_range({"key": b"zz"}) == {
        "header": {"revision": 2},
        "deleted": 0,
        "prev_kvs": [],
    }
    assert store.revision == 2
    assert store.drain_events()[-1].kv.key == b"a"
    assert store.drain_events() == []


def test_delete_range_and_from_key(store):
    for k in (b"a", b"b", b"c", b"d"):
        store.put({"key": k, "value": k})
    # 2..5
    resp = store.delete_range({"key": b"b", "range_end": b"d"})
    assert resp["deleted"] == 2 and resp["header"] == {"revision": 6}
    assert keys(store.range({"key": b"a", "range_end": b"\0"})) == [b"a", b"d"]
    resp = store.delete_range({"key": b"\0", "range_end": b"\0"})
    assert resp["deleted"] == 2 and resp["header"] == {"revision": 7}
    assert store.keys_total() == 0
    # one revision, sub-revisions in key order
    events = store.drain_events()
    assert [(e.type, e.kv.key, e.kv.mod_revision) for e in events[-2:]] == [
        ("DELETE", b"a", 7),
        ("DELETE", b"d", 7),
    ]
    assert events[-1].kv.create_revision == 0 and events[-1].prev_kv.value == b"d"


def test_empty_key_errors(store):
    with pytest.raises(type(errors.EMPTY_KEY)) as e:
        store.put({"key": b"", "value": b"x"})
    assert e.value == errors.EMPTY_KEY
    for call in (store.range, store.delete_range):
        with pytest.raises(type(errors.EMPTY_KEY)) as e:
            call({"key": b""})
        assert e.value == errors.EMPTY_KEY


@pytest.fixture
def abc(store):
    """a@2 (v1), b@3, c@4, a@5 (v2, value 'a2'), d@6 with value '0'."""
    store.put({"key": b"a", "value": b"z"})
    store.put({"key": b"b", "value": b"y"})
    store.put({"key": b"c", "value": b"x"})
    store.put({"key": b"a", "value": b"a2"})
    store.put({"key": b"d", "value": b"0"})
    return store


def test_range_prefix_and_limit(abc):
    resp = abc.range({"key": b"a", "range_end": b"c"})
    assert keys(resp) == [b"a", b"b"] and resp["count"] == 2 and not resp["more"]
    resp = abc.range({"key": b"a", "range_end": b"\0", "limit": 2})
    assert keys(resp) == [b"a", b"b"] and resp["count"] == 4 and resp["more"]
    resp = abc.range({"key": b"a", "range_end": b"\0", "limit": 4})
    assert resp["count"] == 4 and not resp["more"]
    # range_end <= key: nothing
    assert abc.range({"key": b"c", "range_end": b"a"})["count"] == 0


def test_range_count_only_and_keys_only(abc):
    resp = abc.range({"key": b"a", "range_end": b"\0", "count_only": True, "limit": 1})
    assert resp == {"header": {"revision": 6}, "kvs": [], "more": False, "count": 4}
    resp = abc.range({"key": b"a", "keys_only": True})
    assert resp["kvs"] == [kv(b"a", 2, 5, 2, b"")]


def test_range_sorting(abc):
    all_ = {"key": b"a", "range_end": b"\0"}
    assert keys(abc.range({**all_, "sort_order": "DESCEND"})) == [b"d", b"c", b"b", b"a"]
    assert keys(abc.range({**all_, "sort_order": "ASCEND", "sort_target": "VALUE"})) == [
        b"d",
        b"a",
        b"c",
        b"b",
    ]
    # NONE with a non-KEY target means ASCEND
    assert keys(abc.range({**all_, "sort_target": "VALUE"})) == [b"d", b"a", b"c", b"b"]
    assert keys(abc.range({**all_, "sort_target": "MOD", "sort_order": "DESCEND"})) == [
        b"d",
        b"a",
        b"c",
        b"b",
    ]
    assert keys(abc.range({**all_, "sort_target": "CREATE", "sort_order": "DESCEND"})) == [
        b"d",
        b"c",
        b"b",
        b"a",
    ]
    # ties keep key order (stable), descending too
    assert keys(abc.range({**all_, "sort_target": "VERSION", "sort_order": "DESCEND"})) == [
        b"a",
        b"b",
        b"c",
        b"d",
    ]
    # sort happens before the limit
    resp = abc.range({**all_, "sort_order": "DESCEND", "limit": 1})
    assert keys(resp) == [b"d"] and resp["more"] and resp["count"] == 4


def test_range_revision_filters(abc):
    all_ = {"key": b"a", "range_end": b"\0"}
    assert keys(abc.range({**all_, "min_mod_revision": 4})) == [b"a", b"c", b"d"]
    assert keys(abc.range({**all_, "max_mod_revision": 4})) == [b"b", b"c"]
    assert keys(abc.range({**all_, "min_create_revision": 3, "max_create_revision": 4})) == [
        b"b",
        b"c",
    ]
    # count is before filtering, more after it
    resp = abc.range({**all_, "min_mod_revision": 4, "limit": 2})
    assert resp["count"] == 4 and resp["more"] and keys(resp) == [b"a", b"c"]
    resp = abc.range({**all_, "min_mod_revision": 5, "limit": 2})
    assert resp["count"] == 4 and not resp["more"]


def test_range_revision_errors(abc):
    with pytest.raises(type(errors.FUTURE_REV)) as e:
        abc.range({"key": b"a", "revision": 7})
    assert e.value == errors.FUTURE_REV
    abc.compact({"revision": 4})
    with pytest.raises(type(errors.COMPACTED)) as e:
        abc.range({"key": b"a", "revision": 3})
    assert e.value == errors.COMPACTED
    # the compact revision itself is readable
    assert keys(abc.range({"key": b"a", "range_end": b"\0", "revision": 4})) == [b"a", b"b", b"c"]


def test_compact_errors_and_response(abc):
    with pytest.raises(type(errors.FUTURE_REV)) as e:
        abc.compact({"revision": 7})
    assert e.value == errors.FUTURE_REV
    assert abc.compact({"revision": 3}) == {"header": {"revision": 6}}
    assert abc.compact_revision == 3
    for rev in (3, 2):
        with pytest.raises(type(errors.COMPACTED)) as e:
            abc.compact({"revision": rev})
        assert e.value == errors.COMPACTED


def test_compaction_keeps_reads_at_and_after_the_compact_revision(store):
    store.put({"key": b"a", "value": b"1"})  # 2
    store.put({"key": b"b", "value": b"1"})  # 3
    store.delete_range({"key": b"b"})  # 4
    store.put({"key": b"a", "value": b"2"})  # 5
    store.put({"key": b"c", "value": b"1"})  # 6
    before = {
        rev: store.range({"key": b"\0", "range_end": b"\0", "revision": rev}) for rev in range(4, 7)
    }
    store.compact({"revision": 4})
    for rev in range(4, 7):
        assert store.range({"key": b"\0", "range_end": b"\0", "revision": rev}) == before[rev]
    # b's tombstone at 4 is gone with its history; a keeps its value at 2 (newest <= 4)
    assert [e.kv.mod_revision for e in store.history_events(0)] == [2, 5, 6]


def test_put_ignore_value_and_ignore_lease(store):
    with pytest.raises(type(errors.KEY_NOT_FOUND)) as e:
        store.put({"key": b"a", "ignore_value": True})
    assert e.value == errors.KEY_NOT_FOUND
    store.lease_grant({"ID": 7, "TTL": 10})
    store.put({"key": b"a", "value": b"v", "lease": 7})  # 2
    store.put({"key": b"a", "value": b"w", "ignore_lease": True})  # 3
    assert store.range({"key": b"a"})["kvs"] == [kv(b"a", 2, 3, 2, b"w", 7)]
    store.put({"key": b"a", "ignore_value": True})  # 4: value kept, lease dropped
    assert store.range({"key": b"a"})["kvs"] == [kv(b"a", 2, 4, 3, b"w", 0)]
    with pytest.raises(type(errors.VALUE_PROVIDED)) as e:
        store.put({"key": b"a", "value": b"x", "ignore_value": True})
    assert e.value == errors.VALUE_PROVIDED
    with pytest.raises(type(errors.LEASE_PROVIDED)) as e:
        store.put({"key": b"a", "lease": 7, "ignore_lease": True})
    assert e.value == errors.LEASE_PROVIDED
    assert store.revision == 4


def test_put_with_unknown_lease(store):
    with pytest.raises(type(errors.LEASE_NOT_FOUND)) as e:
        store.put({"key": b"a", "value": b"v", "lease": 99})
    assert e.value == errors.LEASE_NOT_FOUND
    assert store.revision == 1


def test_get_helper(abc):
    assert abc.get(b"a").value == b"a2"
    assert abc.get(b"a", 4).value == b"z"
    assert abc.get(b"zz") is None
