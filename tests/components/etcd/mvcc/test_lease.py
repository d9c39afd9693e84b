"""Leases: grant rules, attach/detach, revoke through the store, leader expiry bookkeeping."""

from __future__ import annotations

import pytest

from kubesim.components.etcd import errors
from kubesim.components.etcd.mvcc.lease import FOREVER_SECONDS, MIN_LEASE_TTL, Lessor
from kubesim.components.etcd.mvcc.store import KVStore


def raises(err, fn, *args):
    with pytest.raises(type(err)) as e:
        fn(*args)
    assert e.value == err


def test_min_ttl_is_etcds_for_1s_election_100ms_heartbeat():
    assert MIN_LEASE_TTL == 2


def test_grant_rules():
    store = KVStore()
    assert store.lease_grant({"ID": 1, "TTL": 1}) == {
        "header": {"revision": 1},
        "ID": 1,
        "TTL": 2,
        "error": "",
    }
    assert store.lease_grant({"ID": 2, "TTL": 60})["TTL"] == 60
    raises(errors.LEASE_EXIST, store.lease_grant, {"ID": 1, "TTL": 60})
    raises(errors.LEASE_NOT_FOUND, store.lease_grant, {"ID": 0, "TTL": 60})
    raises(errors.LEASE_TTL_TOO_LARGE, store.lease_grant, {"ID": 3, "TTL": 9_000_000_001})
    assert store.lease_grant({"ID": 3, "TTL": 9_000_000_000})["TTL"] == 9_000_000_000
    assert store.revision == 1  # grants do not take revisions


def test_revoke_deletes_attached_keys_in_one_revision():
    store = KVStore()
    store.lease_grant({"ID": 7, "TTL": 30})
    store.put({"key": b"b", "value": b"1", "lease": 7})  # 2
    store.put({"key": b"a", "value": b"1", "lease": 7})  # 3
    store.put({"key": b"c", "value": b"1", "lease": 7})  # 4
    store.put({"key": b"c", "value": b"2"})  # 5: detached by overwrite without lease
    store.put({"key": b"d", "value": b"1", "lease": 7})  # 6
    store.delete_range({"key": b"d"})  # 7: detached by delete
    assert store.lessor.time_to_live(7, True, 0.0)["keys"] == [b"a", b"b"]
    store.drain_events()
    assert store.lease_revoke({"ID": 7}) == {"header": {"revision": 8}}
    events = store.drain_events()
    assert [(e.type, e.kv.key, e.kv.mod_revision) for e in events] == [
        ("DELETE", b"a", 8),
        ("DELETE", b"b", 8),
    ]
    assert store.get(b"c").value == b"2"
    raises(errors.LEASE_NOT_FOUND, store.lease_revoke, {"ID": 7})
    # a lease without keys revokes without a revision
    store.lease_grant({"ID": 8, "TTL": 30})
    assert store.lease_revoke({"ID": 8}) == {"header": {"revision": 8}}


def test_moving_a_key_between_leases():
    store = KVStore()
    store.lease_grant({"ID": 1, "TTL": 30})
    store.lease_grant({"ID": 2, "TTL": 30})
    store.put({"key": b"k", "value": b"v", "lease": 1})
    store.put({"key": b"k", "value": b"v", "lease": 2})
    assert store.lessor.time_to_live(1, True, 0.0)["keys"] == []
    store.lease_revoke({"ID": 1})
    assert store.get(b"k") is not None
    store.lease_revoke({"ID": 2})
    assert store.get(b"k") is None


def test_expiry_is_leader_only():
    lessor = Lessor()
    lessor.grant(1, 10, now=100.0)
    assert lessor.expired(1e9) == []  # a follower never expires leases
    ttl = lessor.time_to_live(1, False, 100.0)
    assert ttl == {"ID": 1, "TTL": FOREVER_SECONDS, "grantedTTL": 10, "keys": []}
    raises(errors.NOT_LEADER, lessor.renew, 1, 100.0)

    lessor.promote(200.0)
    assert lessor.time_to_live(1, False, 203.5)["TTL"] == 6
    assert lessor.expired(209.9) == []
    assert lessor.expired(210.0) == [1]
    lessor.grant(2, 5, now=200.0)  # leader grants get an expiry
    assert lessor.expired(210.0) == [2, 1]

    lessor.demote()
    assert lessor.expired(1e9) == []
    lessor.promote(300.0, extend=1.0)
    assert lessor.expired(305.9) == []
    assert lessor.expired(306.0) == [2]
    assert lessor.renew(1, 305.0) == 10
    assert lessor.expired(314.9) == [2]
    assert lessor.expired(315.0) == [2, 1]


def test_renew():
    lessor = Lessor()
    lessor.promote(0.0)
    lessor.grant(1, 10, now=0.0)
    assert lessor.renew(1, 8.0) == 10
    assert lessor.expired(17.9) == []
    assert lessor.time_to_live(1, False, 9.0)["TTL"] == 9
    raises(errors.LEASE_NOT_FOUND, lessor.renew, 2, 8.0)
    # expired, waiting for revocation: not renewable
    raises(errors.LEASE_NOT_FOUND, lessor.renew, 1, 18.0)


def test_time_to_live_of_unknown_lease():
    assert Lessor().time_to_live(5, True, 0.0) == {"ID": 5, "TTL": -1, "grantedTTL": 0, "keys": []}
