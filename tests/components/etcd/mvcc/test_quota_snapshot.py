"""Size accounting, the NOSPACE alarm, and snapshot round trips."""

from __future__ import annotations

import msgpack
import pytest

from kubesim.components.etcd import errors
from kubesim.components.etcd.mvcc.machine import StateMachine
from kubesim.components.etcd.mvcc.store import PAGE_SIZE, KVStore


def raises(err, fn, *args):
    with pytest.raises(type(err)) as e:
        fn(*args)
    assert e.value == err


def test_db_size_grows_never_shrinks_until_defragment():
    store = KVStore()
    fresh = store.db_size()
    assert fresh == 5 * PAGE_SIZE
    for i in range(200):
        store.put({"key": b"k%03d" % i, "value": b"x" * 100})
    grown = store.db_size()
    assert grown > fresh and grown % PAGE_SIZE == 0
    assert store.keys_total() == 200
    store.delete_range({"key": b"k", "range_end": b"l"})
    store.compact({"revision": store.revision})
    assert store.keys_total() == 0
    assert store.db_size() >= grown  # compaction frees pages but the file stays
    store.defragment()
    assert store.db_size() == fresh


def test_nospace_alarm_blocks_writes_but_not_reads_or_deletes():
    store = KVStore(quota_bytes=64 * 1024)
    i = 0
    with pytest.raises(type(errors.NO_SPACE)) as e:
        while True:
            store.put({"key": b"k%05d" % i, "value": b"x" * 1000})
            i += 1
    assert e.value == errors.NO_SPACE
    assert store.alarms == {"NOSPACE"}
    rev = store.revision
    raises(errors.NO_SPACE, store.put, {"key": b"small", "value": b""})
    raises(errors.NO_SPACE, store.lease_grant, {"ID": 1, "TTL": 10})
    raises(errors.NO_SPACE, store.txn, {"failure": [{"request_put": {"key": b"a"}}]})
    assert store.revision == rev
    # reads and deletes still work
    assert store.range({"key": b"k", "range_end": b"l", "count_only": True})["count"] == i
    store.delete_range({"key": b"k00000"})
    # (a txn of any kind fails while the db is at the quota, as etcd's quotaKVServer does)
    store.delete_range({"key": b"k", "range_end": b"l"})
    store.compact({"revision": store.revision})
    store.defragment()
    # below the quota again, but still armed: txns without puts pass, writes fail
    store.txn({"success": [{"request_range": {"key": b"k00000"}}]})
    store.txn({"success": [{"request_delete_range": {"key": b"k00001"}}]})
    raises(errors.NO_SPACE, store.put, {"key": b"small", "value": b""})
    store.disarm_nospace()
    store.put({"key": b"small", "value": b""})
    assert store.alarms == set()


def test_alarm_disarm_through_the_machine():
    sm = StateMachine(quota_bytes=24 * 1024)
    raises(errors.NO_SPACE, sm.apply, "put", {"key": b"a", "value": b"x" * 5000})
    resp = sm.apply("alarm_disarm", {"memberID": 9, "alarm": "NOSPACE", "action": "DEACTIVATE"})
    assert resp == {"header": {"revision": 1}, "alarms": [{"memberID": 9, "alarm": "NOSPACE"}]}
    assert sm.apply("alarm_disarm", {})["alarms"] == []
    assert sm.apply("put", {"key": b"a", "value": b"x"})["header"] == {"revision": 2}


def build_store() -> KVStore:
    store = KVStore()
    store.lease_grant({"ID": 3, "TTL": 30})
    store.lease_grant({"ID": 4, "TTL": 5})
    store.put({"key": b"a", "value": b"1"})
    store.put({"key": b"b", "value": b"1", "lease": 3})
    store.put({"key": b"a", "value": b"2"})
    store.delete_range({"key": b"a"})
    store.txn(
        {"success": [{"request_put": {"key": b"c", "value": b"x"}}, {"request_put": {"key": b"a"}}]}
    )
    store.compact({"revision": 3})
    store.put({"key": b"d", "value": b"\xff\x00", "lease": 4})
    store.alarms.add("NOSPACE")
    return store


def observe(store: KVStore):
    reads = [
        store.range({"key": b"\0", "range_end": b"\0", "revision": r})
        for r in range(3, store.revision + 1)
    ]
    history = list(store.history_events(0))
    leases = [(x.id, x.ttl, sorted(x.keys)) for x in store.lessor.leases()]
    return (
        store.revision,
        store.compact_revision,
        reads,
        history,
        leases,
        store.alarms,
        store.db_size(),
        store.keys_total(),
        store.index.data_bytes,
    )


def test_snapshot_round_trip_is_exact():
    store = build_store()
    data = store.snapshot()
    msgpack.unpackb(data, raw=False, strict_map_key=False)  # plain msgpack
    copy = KVStore()
    copy.restore(data)
    assert observe(copy) == observe(store)
    assert copy.snapshot() == data
    # and the copy keeps behaving the same
    for s in (store, copy):
        s.disarm_nospace()
        s.lease_revoke({"ID": 3})
        s.put({"key": b"e", "value": b"e"})
    assert observe(copy) == observe(store)


def test_restore_replaces_state():
    copy = KVStore()
    copy.put({"key": b"zzz", "value": b"1"})
    copy.lease_grant({"ID": 99, "TTL": 10})
    copy.restore(KVStore().snapshot())
    assert copy.revision == 1 and copy.get(b"zzz") is None and 99 not in copy.lessor
