"""The storage and the watch cache on a 3-member Raft etcd on the sim runtime, with the leader
crashed mid-way: no acknowledged write is lost, and watch cache watchers see every event once."""

from __future__ import annotations

import random

from kubesim.api.status import APIError
from kubesim.components.apiserver.storage import ResourceStore
from kubesim.components.apiserver.watchcache import WatchCache
from tests.components.apiserver.storage.helpers import configmap
from tests.components.apiserver.watchcache.helpers import EPOCH, drain, kind, query
from tests.components.etcd.cluster_helpers import client, client_address, sim_cluster

CM = kind("configmaps")


async def leader_of(rt, endpoints) -> str:
    def leaders() -> list[str]:
        return [e for e in endpoints if rt.host.is_alive(e) and rt.actor(e).state == 2]

    async def elected() -> bool:
        return bool(leaders())

    await rt.wait_until(elected, timeout=10)
    return leaders()[0]


async def create_acked(store: ResourceStore, name: str) -> None:
    """Create once: retry while the outcome is unknown (etcd's error surfaced as a 500); an
    AlreadyExists on a retry means an earlier attempt was applied."""
    attempt = 0
    while True:
        try:
            await store.create("default", configmap(name, n=name))
            return
        except APIError as e:
            if e.code == 409 and attempt > 0:
                return
            assert e.code == 500, e.message
            attempt += 1


def test_leader_crash_loses_no_acknowledged_write_and_watchers_see_each_event_once():
    rt, endpoints = sim_cluster(seed=21)
    with rt:
        async def main(r):
            ctx = rt.actor(client_address(0)).ctx
            etcd = client(rt)
            leader = await leader_of(r, endpoints)
            await etcd.discover_leader()  # so the cache's etcd watch is on the leader too
            store = ResourceStore(CM, etcd, now=lambda: EPOCH + ctx.now(), rng=random.Random(3))
            cache = WatchCache(store, ctx)
            await cache.start()

            async def watching() -> bool:
                return cache._stream is not None

            await r.wait_until(watching, timeout=5)
            assert cache._stream._endpoint == leader
            watcher = await cache.watch("", query(CM, resourceVersion="0"))
            seen: list[dict] = []

            async def read():
                while (event := await watcher.next()) is not None:
                    seen.append(event)

            ctx.spawn(read())
            acked = []
            for i in range(40):
                if i == 15:
                    rt.crash_machine(leader.split("/")[1])
                await create_acked(store, f"cm-{i:02d}")
                acked.append(f"cm-{i:02d}")
            listed = await cache.list("", query(CM))  # consistent, from the cache
            late = await cache.watch("", query(CM, resourceVersion=seen[3]["object"]["metadata"][
                "resourceVersion"]))
            new_leader = await leader_of(r, endpoints)
            assert new_leader != leader
            # a consistent list of an idle kind: its cache catches up with etcd's revision
            # through a progress request to the member its watch is on, not the 3 s fallback
            pods = WatchCache(ResourceStore(kind("pods"), etcd, now=lambda: EPOCH + ctx.now(),
                                            rng=random.Random(4)), ctx)
            await pods.start()
            await create_acked(store, "cm-last")
            started = ctx.now()
            idle = await pods.list("", query(kind("pods")))
            assert ctx.now() - started < 1.0
            assert int(idle["metadata"]["resourceVersion"]) >= int(
                (await store.get("default", "cm-last"))["metadata"]["resourceVersion"])
            return acked, listed, seen, await drain(late, len(acked) - 4), watcher.terminated

        acked, listed, seen, late, terminated = rt.run(main)

    assert [i["metadata"]["name"] for i in listed["items"]] == acked
    assert not terminated
    names = [e["object"]["metadata"]["name"] for e in seen]
    assert names == [*acked, "cm-last"]  # each once, in order
    assert all(e["type"] == "ADDED" for e in seen)
    revisions = [int(e["object"]["metadata"]["resourceVersion"]) for e in seen]
    assert revisions == sorted(set(revisions))
    assert [e["object"]["metadata"]["name"] for e in late] == acked[4:]
