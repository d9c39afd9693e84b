"""etcd members on the sim runtime: durability across leader crashes, restart from the WAL,
a new member catching up by snapshot, watches across a leader change, leases, bad input,
metrics."""

from __future__ import annotations

import pytest

from kubesim.components.etcd import errors
from kubesim.components.etcd.client import outcome_unknown
from kubesim.components.etcd.cluster import add_machine_for, member_address, member_id, member_spec
from kubesim.components.etcd.errors import EtcdError
from kubesim.components.etcd.member import EtcdMember
from tests.components.etcd.cluster_helpers import client, sim_cluster


def members(rt, endpoints) -> list[EtcdMember]:
    return [rt.actor(e) for e in endpoints]  # type: ignore[misc]


async def leader_of(r, endpoints) -> str:
    async def elected() -> bool:
        return any(m.state == 2 for m in members(r, endpoints) if r.host.is_alive(str(m.ctx.address)))

    await r.wait_until(elected, timeout=10)
    return next(e for e, m in zip(endpoints, members(r, endpoints), strict=True) if m.state == 2)


async def create_acked(c, key: bytes, value: bytes) -> None:
    """Create `key` once, retrying while the outcome is unknown (a retry after an applied
    attempt fails its compare and writes nothing: no duplicate events)."""
    txn = {
        "compare": [{"key": key, "target": "CREATE", "result": "EQUAL", "create_revision": 0}],
        "success": [{"request_put": {"key": key, "value": value}}],
    }
    while True:
        try:
            await c.txn(txn)
            return
        except EtcdError as e:
            assert outcome_unknown(e), e


def value_of(resp) -> bytes | None:
    return resp["kvs"][0]["value"] if resp["kvs"] else None


def test_leader_crash_loses_no_acknowledged_write_and_restart_rejoins_from_wal():
    rt, endpoints = sim_cluster(seed=3)
    with rt:

        async def main(r):
            c = client(rt)
            acked = {}
            leader = await leader_of(r, endpoints)
            for i in range(60):
                if i == 20:
                    rt.crash_machine(leader.split("/")[1])
                key = f"key-{i}".encode()
                await create_acked(c, key, str(i).encode())
                acked[key] = str(i).encode()
            new_leader = await leader_of(r, [e for e in endpoints if e != leader])
            assert new_leader != leader
            for key, value in acked.items():
                assert value_of(await c.range({"key": key})) == value
            rt.restart_machine(leader.split("/")[1])
            rejoined = rt.actor(leader)

            async def caught_up() -> bool:
                return rejoined.sm.store.revision == rt.actor(new_leader).sm.store.revision

            await r.wait_until(caught_up, timeout=20)
            return rejoined

        rejoined = rt.run(main)
        assert rejoined.ctx.incarnation == 1
        kvs = rejoined.sm.read({"key": b"key-", "range_end": b"key.", "serializable": True})["kvs"]
        assert len(kvs) == 60


def test_new_member_catches_up_by_snapshot_and_members_can_be_removed():
    settings = {"snapshot_count": 20, "snapshot_catchup_entries": 5}
    rt, endpoints = sim_cluster(seed=5, settings=settings)
    with rt:

        async def main(r):
            c = client(rt)
            for i in range(100):
                await c.put({"key": f"k{i}".encode(), "value": b"v"})
            leader = await leader_of(r, endpoints)
            new = str(member_address(3))
            reply = await r.ask(leader, ["member", "add", member_id(3), new])
            assert reply[0] == "ok" and len(reply[1]["members"]) == 4
            add_machine_for(rt, 3)
            peers = {member_id(i): str(member_address(i)) for i in range(4)}
            await rt.spawn_live(member_spec(3, peers, settings, join=True))

            async def caught_up() -> bool:
                return rt.actor(new).sm.store.revision == rt.actor(leader).sm.store.revision

            await r.wait_until(caught_up, timeout=20)
            joined = rt.actor(new)
            assert joined.mem.snapshot().metadata.index > 0, "caught up by snapshot, not by replaying the log"
            assert set(joined.conf_state.voters) == {1, 2, 3, 4}
            # the new member takes part: a write through it commits on everyone
            await r.ask(new, ["kv", "put", {"key": b"via-new", "value": b"1"}])
            reply = await r.ask(leader, ["member", "remove", member_id(0)])
            assert reply[0] == "ok" and member_id(0) not in [m["ID"] for m in reply[1]["members"]]
            return await c.range({"key": b"via-new"})

        assert value_of(rt.run(main)) == b"1"


def test_watch_loses_and_repeats_no_event_across_leader_change():
    rt, endpoints = sim_cluster(seed=11, clients=2)
    with rt:

        async def main(r):
            writer, watcher = client(rt, 0), client(rt, 1)
            leader = await leader_of(r, endpoints)
            await watcher.discover_leader()  # so the watch lands on the leader we will crash
            watch = await watcher.watch({"key": b"w/", "range_end": b"w0"})
            created = await watch.next()
            assert created["created"]
            assert watch._endpoint == leader
            for i in range(40):
                if i == 15:
                    rt.crash_machine(leader.split("/")[1])
                if i == 30:
                    rt.restart_machine(leader.split("/")[1])
                await create_acked(writer, f"w/{i:02d}".encode(), str(i).encode())
            seen = []
            while len(seen) < 40:
                resp = await watch.next()
                seen += [(e["kv"]["key"], e["kv"]["mod_revision"]) for e in resp["events"]]
            await watch.cancel()
            return seen

        seen = rt.run(main)
        assert [k for k, _ in seen] == [f"w/{i:02d}".encode() for i in range(40)]
        revisions = [rev for _, rev in seen]
        assert revisions == sorted(set(revisions))


def test_watch_resumes_from_a_revision_and_reports_compaction():
    rt, _ = sim_cluster(seed=2)
    with rt:

        async def main(r):
            c = client(rt)
            revs = [(await c.put({"key": b"r", "value": str(i).encode()}))["header"]["revision"] for i in range(10)]
            watch = await c.watch({"key": b"r", "start_revision": revs[4], "prev_kv": True})
            assert (await watch.next())["created"]
            events = []
            while len(events) < 6:
                events += (await watch.next())["events"]
            await c.compact({"revision": revs[7]})
            old = await c.watch({"key": b"r", "start_revision": revs[2]})
            first = await old.next()
            canceled = await old.next()
            return events, first, canceled, revs

        events, first, canceled, revs = rt.run(main)
        assert [e["kv"]["mod_revision"] for e in events] == revs[4:]
        assert events[0]["prev_kv"]["value"] == b"3"
        assert first["created"]
        assert canceled["canceled"] and canceled["compact_revision"] == revs[7]


def test_bad_input_gets_etcds_error_and_changes_nothing():
    rt, endpoints = sim_cluster(seed=4)
    with rt:

        async def main(r):
            c = client(rt)
            before = (await c.put({"key": b"a", "value": b"1"}))["header"]["revision"]
            failures = []
            for op, req in [
                ("put", {"key": b"big", "value": b"x" * (1_572_864 + 1)}),
                ("put", {"key": b"", "value": b"1"}),
                ("txn", {"success": [{"request_put": {"key": f"t{i}".encode()}} for i in range(129)]}),
                ("txn", {"success": [{"request_put": {"key": b"d"}}, {"request_put": {"key": b"d"}}]}),
                ("range", {"key": b"a", "revision": before + 100}),
                ("lease_revoke", {"ID": 12345}),
            ]:
                with pytest.raises(EtcdError) as info:
                    await c.request(op, req)
                failures.append(info.value)
            after = await c.range({"key": b"a"})
            return before, after, failures

        before, after, failures = rt.run(main)
        assert failures == [
            errors.REQUEST_TOO_LARGE,
            errors.EMPTY_KEY,
            errors.TOO_MANY_OPS,
            errors.DUPLICATE_KEY,
            errors.FUTURE_REV,
            errors.LEASE_NOT_FOUND,
        ]
        assert after["header"]["revision"] == before and value_of(after) == b"1"


def test_leases_expire_on_the_leader_and_keepalive_holds_them():
    rt, _ = sim_cluster(seed=6)
    with rt:

        async def main(r):
            c = client(rt)
            kept = (await c.lease_grant({"TTL": 3}))["ID"]
            dropped = (await c.lease_grant({"TTL": 3}))["ID"]
            await c.put({"key": b"kept", "value": b"1", "lease": kept})
            await c.put({"key": b"dropped", "value": b"1", "lease": dropped})
            for _ in range(10):
                await r.sleep(1.0)
                assert (await c.lease_keepalive({"ID": kept}))["TTL"] == 3
            ttl = await c.lease_timetolive({"ID": dropped, "keys": True})
            return (
                value_of(await c.range({"key": b"kept"})),
                value_of(await c.range({"key": b"dropped"})),
                ttl,
            )

        kept, dropped, ttl = rt.run(main)
        assert kept == b"1" and dropped is None
        assert ttl["TTL"] == -1


def test_members_export_etcd_metrics():
    rt, endpoints = sim_cluster(seed=8)
    with rt:

        async def main(r):
            for i in range(5):
                await client(rt).put({"key": f"m{i}".encode(), "value": b"1"})
            await r.sleep(6)  # a peer probe round

        rt.run(main)
        text = rt.metrics.exposition().decode()
        for name in (
            "etcd_server_has_leader",
            "etcd_server_is_leader",
            "etcd_server_leader_changes_seen_total",
            "etcd_server_proposals_committed_total",
            "etcd_server_proposals_applied_total",
            "etcd_server_proposals_pending",
            "etcd_server_proposals_failed_total",
            "etcd_disk_wal_fsync_duration_seconds_bucket",
            "etcd_disk_backend_commit_duration_seconds_bucket",
            "etcd_mvcc_db_total_size_in_bytes",
            "etcd_network_peer_round_trip_time_seconds_bucket",
            "etcd_debugging_mvcc_keys_total",
        ):
            assert name in text, name
        assert sum(m.metrics.is_leader._child()._value.get() for m in members(rt, endpoints)) == 1
        assert 'etcd_debugging_mvcc_keys_total{instance="etcd-0",job="etcd"} 5.0' in text


def test_same_seed_same_run():
    def trace(seed: int) -> str:
        rt, _ = sim_cluster(seed=seed)
        with rt:

            async def main(r):
                for i in range(20):
                    await client(rt).put({"key": f"d{i}".encode(), "value": b"1"})

            rt.run(main)
            return rt.trace_hash()

    assert trace(21) == trace(21) != trace(22)


def test_a_restarted_member_keeps_its_term_and_vote():
    """Raft's persistent state survives a crash: a member that forgot its vote could vote
    twice in one term and let two leaders be elected."""
    rt, endpoints = sim_cluster(seed=12)
    with rt:

        async def main(r):
            c = client(rt)
            for i in range(10):
                await c.put({"key": f"h{i}".encode(), "value": b"1"})
            leader = await leader_of(r, endpoints)
            follower = next(e for e in endpoints if e != leader)
            before = rt.actor(follower).node.raft.hard_state()
            rt.crash_machine(follower.split("/")[1])
            rt.restart_machine(follower.split("/")[1])
            await r.sleep(0)  # the member starts; nothing has reached it yet
            return before, rt.actor(follower).node.raft.hard_state(), rt.actor(follower)

        before, after, member = rt.run(main)
        assert member.ctx.incarnation == 1
        assert (after.term, after.vote) == (before.term, before.vote) and before.vote != 0
        assert after.commit <= before.commit  # commit advances without an fsync in etcd too
