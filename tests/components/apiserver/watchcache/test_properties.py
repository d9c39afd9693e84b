"""Properties: whatever the writes, the cache's list at a resourceVersion equals a direct etcd
range at that revision, and a watch from "0" replays to the same state."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubesim.api.status import APIError
from kubesim.components.apiserver.watchcache import CacheSettings
from tests.components.apiserver.storage.helpers import configmap
from tests.components.apiserver.watchcache.helpers import kind, query, run_sim

CM = kind("configmaps")
op = st.tuples(st.sampled_from(["create", "update", "delete"]),
               st.sampled_from(["a", "b"]),  # namespace
               st.sampled_from(["x", "y", "z"]),  # name
               st.sampled_from(["red", "blue"]))  # label


def key(obj) -> tuple[str, str]:
    return obj["metadata"]["namespace"], obj["metadata"]["name"]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=st.lists(st.lists(op, min_size=1, max_size=6), min_size=1, max_size=4),
       selector=st.sampled_from(["", "color=red", "color!=red"]),
       namespace=st.sampled_from(["", "a"]))
def test_cache_list_equals_an_etcd_range_at_the_same_revision(batches, selector, namespace):
    async def scenario(env):
        store = env.store("configmaps")
        # the watch is read only at the end: a buffer that holds everything until then
        cache = await env.cache("configmaps", settings=CacheSettings(watcher_buffer=1_000))
        watcher = await cache.watch("", query(CM, resourceVersion="0"))  # starts empty, at 1
        for batch in batches:
            for verb, ns, name, color in batch:
                try:
                    if verb == "create":
                        cm = configmap(name, ns)
                        cm["metadata"]["labels"] = {"color": color}
                        await store.create(ns, cm)
                    elif verb == "update":
                        cm = await store.get(ns, name)
                        cm["metadata"]["labels"] = {"color": color}
                        await store.update(ns, name, cm)
                    else:
                        await store.delete(ns, name)
                except APIError as e:
                    assert e.code in (404, 409)
            cached = await cache.list(namespace, query(CM, labelSelector=selector))
            rv = cached["metadata"]["resourceVersion"]
            direct = await store.list(namespace, query(
                CM, labelSelector=selector, resourceVersion=rv, resourceVersionMatch="Exact"))
            assert cached["items"] == direct["items"]
            assert rv == str(env.backend.sm.store.revision)
        replayed: dict[tuple[str, str], dict] = {}
        last_rv = 1
        while int(rv) > last_rv:
            event = await watcher.next()
            assert event is not None, "the watch ended early"
            obj = event["object"]
            last_rv = int(obj["metadata"]["resourceVersion"])
            if event["type"] == "DELETED":
                del replayed[key(obj)]
            else:
                replayed[key(obj)] = obj
        final = await store.list("", query(CM))
        assert sorted(replayed.items()) == sorted((key(o), o) for o in final["items"])

    run_sim(scenario)
