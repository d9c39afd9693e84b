"""Indexed dispatch: events offered only to the watchers of their scope and trigger value, with
exactly the events offering every event to every watcher gives."""

from __future__ import annotations

import random

import pytest

from kubesim.components.apiserver.watchcache import CacheSettings
from kubesim.components.apiserver.watchcache.cache import WatchCache
from tests.components.apiserver.storage.helpers import pod
from tests.components.apiserver.watchcache.helpers import drain, query, run_sim

SELECTIONS = [  # (namespace, query): kubelets, the scheduler's unassigned pods, scoped watches
    ("", {"fieldSelector": "spec.nodeName=n1"}),
    ("", {"fieldSelector": "spec.nodeName=n2"}),
    ("", {"fieldSelector": "spec.nodeName="}),
    ("", {"fieldSelector": "spec.nodeName!=n1"}),
    ("", {}),
    ("ns1", {}),
    ("", {"fieldSelector": "metadata.namespace=ns2"}),
    ("", {"fieldSelector": "metadata.name=p3"}),
    ("ns1", {"fieldSelector": "metadata.name=p3,spec.nodeName=n2"}),
    ("", {"labelSelector": "app=web", "fieldSelector": "spec.nodeName=n1"}),
]


def _workload(seed: int):
    """Creates, binds, relabels and deletes pods in two namespaces; the events of every
    selection's watch."""
    async def scenario(env):
        store = env.store()
        cache = await env.cache(settings=CacheSettings(watcher_buffer=10_000))
        watchers = [await cache.watch(ns, query(resourceVersion="0", **q)) for ns, q in SELECTIONS]
        rng = random.Random(seed)
        live: dict[tuple[str, str], bool] = {}  # (namespace, name) -> bound
        for _ in range(120):
            ns, name = rng.choice(["ns1", "ns2"]), f"p{rng.randrange(6)}"
            if (ns, name) not in live:
                await store.create(ns, pod(name, ns, labels={"app": rng.choice(["web", "db"])},
                                           node=rng.choice(["", "", "n1", "n2"])))
                live[(ns, name)] = bool((await store.get(ns, name))["spec"].get("nodeName"))
            elif not live[(ns, name)] and rng.random() < 0.5:
                await store.bind(ns, {"metadata": {"name": name},
                                      "target": {"name": rng.choice(["n1", "n2"])}})
                live[(ns, name)] = True
            elif rng.random() < 0.5:
                current = await store.get(ns, name)
                current["metadata"]["labels"] = {"app": rng.choice(["web", "db"])}
                await store.update(ns, name, current)
            else:
                await store.delete(ns, name, {"gracePeriodSeconds": 0})
                del live[(ns, name)]
        await cache.wait_until_fresh(store.current_revision())
        out = []
        for w in watchers:
            events = []
            w.terminate()  # what was dispatched to it is still delivered, then the end
            while (event := await w.next()) is not None:
                events.append((event["type"], event["object"]["metadata"]["namespace"],
                               event["object"]["metadata"]["name"],
                               event["object"]["metadata"]["resourceVersion"]))
            out.append(events)
        return out
    return scenario


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_indexed_dispatch_delivers_exactly_what_offering_every_event_to_every_watcher_does(
        seed, monkeypatch):
    indexed = run_sim(_workload(seed))
    monkeypatch.setattr(WatchCache, "_candidates", lambda self, event: list(self._watchers))
    everyone = run_sim(_workload(seed))
    assert indexed == everyone
    assert all(indexed[:5])  # the node, unassigned and unrestricted watches saw events


def test_a_stalled_watch_of_one_node_is_not_filled_by_other_nodes_pods():
    """With a buffer of 3, a watch that never reads survives 20 pods on another node; a watch
    on every pod that never reads is closed (unindexed, the node watch would be too)."""
    async def scenario(env):
        store = env.store()
        cache = await env.cache(settings=CacheSettings(watcher_buffer=3))
        idle_node = await cache.watch("", query(resourceVersion="0", fieldSelector="spec.nodeName=n2"))
        everything = await cache.watch("", query(resourceVersion="0"))
        for i in range(20):
            await store.create("default", pod(f"p{i}", node="n1"))
        await store.create("default", pod("mine", node="n2"))
        await env.ctx.sleep(1.0)
        return idle_node.terminated, everything.terminated, await drain(idle_node, 1)

    idle_terminated, everything_terminated, events = run_sim(scenario)
    assert everything_terminated and not idle_terminated
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "mine")]


def test_watch_buffer_sizes_follow_suggested_watch_channel_size():
    s = CacheSettings()
    assert s.suggested_buffer(100) == 10  # ceil(100 / 75 s) is below the minimum
    assert s.suggested_buffer(150_000, index_exists=False) == 100
    assert s.suggested_buffer(150_000, index_exists=True, trigger_used=False) == 1000
    assert s.suggested_buffer(150_000, index_exists=True, trigger_used=True) == 10
    assert s.suggested_buffer(30_000, index_exists=True) == 400
    assert CacheSettings(watcher_buffer=7).suggested_buffer(150_000, True, True) == 7
