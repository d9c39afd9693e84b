"""The linearizability checker against our etcd: a serializable read served by a member cut
off from the majority returns a stale value after a newer write was acknowledged, and the
checker rejects that history; the same read made linearizable (ReadIndex) refuses to
answer while cut off and returns the newer value once healed, and that history passes."""

from __future__ import annotations

import pytest

from kubesim.components.etcd.client import EtcdClient
from kubesim.components.etcd.errors import EtcdError
from kubesim.runtime.network import PartitionMode
from kubesim.testing.linearizability import EtcdKVModel, Get, History, Put, check
from tests.components.etcd.cluster_helpers import client, client_address, sim_cluster
from tests.components.etcd.test_member import leader_of

WRITER, READER = 0, 1


def test_stale_serializable_read_is_caught_and_readindex_is_not_stale():
    rt, endpoints = sim_cluster(seed=17, clients=2)
    with rt:

        async def main(r):
            writer = client(rt, WRITER)
            leader = await leader_of(r, endpoints)
            victim = next(e for e in endpoints if e != leader)
            # the reader talks to the victim only, as a client pinned to one endpoint does
            reader = EtcdClient(rt.actor(client_address(READER)).ctx, [victim], deadline=3.0)
            history = History()

            async def put(value: str) -> None:
                token = history.invoke(WRITER, Put("k", value), r.now())
                await writer.put({"key": b"k", "value": value.encode()})
                history.complete(token, None, r.now())

            async def get(serializable: bool) -> str | None:
                token = history.invoke(READER, Get("k"), r.now())
                resp = await reader.range({"key": b"k", "serializable": serializable})
                value = resp["kvs"][0]["value"].decode() if resp["kvs"] else None
                history.complete(token, value, r.now())
                return value

            await put("old")
            applied = rt.actor(leader).sm.store.revision

            async def victim_has_it() -> bool:
                return rt.actor(victim).sm.store.revision >= applied

            await r.wait_until(victim_has_it, timeout=5)
            others = [e.split("/")[1] for e in endpoints if e != victim]
            cut = rt.partition([victim.split("/")[1]], others, mode=PartitionMode.DROP)
            await writer.discover_leader()  # the writer goes to the leader, not the victim
            await put("new")  # committed by the leader and the third member
            await r.sleep(0.01)  # the read starts strictly after the write returned
            stale = await get(serializable=True)
            stale_history = history.operations()

            linearizable_failed = False
            try:
                await get(serializable=False)
            except EtcdError:
                linearizable_failed = True  # ReadIndex needs the leader: no answer, no stale value
            rt.heal(cut)
            fresh_history = [op for op in stale_history if op.output != "old"]
            fresh = History()
            for op in fresh_history:
                token = fresh.invoke(op.client, op.input, op.call)
                fresh.complete(token, op.output, op.ret)
            token = fresh.invoke(READER, Get("k"), r.now())
            value = (await reader.range({"key": b"k"}))["kvs"][0]["value"].decode()
            fresh.complete(token, value, r.now())
            return stale, stale_history, linearizable_failed, value, fresh.operations()

        stale, stale_history, linearizable_failed, fresh_value, fresh_history = rt.run(main)

    assert stale == "old", "the cut-off member served its own (stale) state"
    verdict = check(EtcdKVModel(), stale_history)
    assert not verdict.ok, "the checker must reject a read of 'old' after 'new' was acknowledged"
    assert "get('k') -> 'old'" in verdict.message
    assert linearizable_failed
    assert fresh_value == "new"
    assert check(EtcdKVModel(), fresh_history).ok


@pytest.mark.parametrize("output", ["old", None])
def test_checker_rejects_a_read_of_an_overwritten_value(output):
    """The pure checker on a two-operation history, without a cluster."""
    history = History()
    w = history.invoke(0, Put("k", "old"), 0.0)
    history.complete(w, None, 1.0)
    w = history.invoke(0, Put("k", "new"), 2.0)
    history.complete(w, None, 3.0)
    rd = history.invoke(1, Get("k"), 4.0)
    history.complete(rd, output, 5.0)
    assert not check(EtcdKVModel(), history.operations()).ok
