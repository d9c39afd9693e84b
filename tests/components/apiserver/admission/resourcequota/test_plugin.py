"""ResourceQuota admission end to end: charging status.used, batching, optimistic
concurrency across apiserver replicas, the look-aside and live-lookup caches."""

from __future__ import annotations

import asyncio
import random

import pytest

from kubesim.api.status import APIError
from kubesim.components.apiserver.admission.resourcequota.plugin import ResourceQuota
from tests.components.apiserver.admission.fakes import (
    RESOURCE_QUOTAS,
    FakeCtx,
    FakeStore,
    create,
    namespace,
    pod,
    quota,
)

EXCEEDED_LAST_SLOT = ('pods "{}" is forbidden: exceeded quota: q, requested: pods=1, '
                      "used: pods=2, limited: pods=2")


def _replica(store: FakeStore, ctx: FakeCtx | None = None) -> ResourceQuota:
    return ResourceQuota(store, ctx or FakeCtx(), store.update_quota_status)


def _used(store: FakeStore, name: str = "q") -> dict[str, str]:
    return store.stored_obj(RESOURCE_QUOTAS, "ns", name)["status"]["used"]


async def _race(*calls):
    return await asyncio.gather(*calls, return_exceptions=True)


def test_create_charges_status_used():
    store = FakeStore()
    store.put(RESOURCE_QUOTAS, quota("q", {"pods": "2"}, {"pods": "0"}))
    plugin = _replica(store)
    asyncio.run(plugin.validate(create(pod("a"), "pods")))
    assert _used(store) == {"pods": "1"}
    assert store.stored_obj(RESOURCE_QUOTAS, "ns", "q")["metadata"]["resourceVersion"] == "2"


def test_two_creates_on_one_replica_race_for_the_last_slot():
    store = FakeStore()
    store.put(RESOURCE_QUOTAS, quota("q", {"pods": "2"}, {"pods": "1"}))
    plugin = _replica(store)
    results = asyncio.run(_race(plugin.validate(create(pod("a"), "pods")),
                                plugin.validate(create(pod("b"), "pods"))))
    assert results[0] is None
    assert isinstance(results[1], APIError) and results[1].code == 403
    assert results[1].message == EXCEEDED_LAST_SLOT.format("b")
    assert _used(store) == {"pods": "2"}
    assert store.status_writes == 1  # one batch, one write


def test_two_replicas_race_for_the_last_slot_one_wins_by_conflict():
    store = FakeStore(slow_writes=True)
    store.put(RESOURCE_QUOTAS, quota("q", {"pods": "2"}, {"pods": "1"}))
    first, second = _replica(store), _replica(store)
    results = asyncio.run(_race(first.validate(create(pod("a"), "pods")),
                                second.validate(create(pod("b"), "pods"))))
    assert results[0] is None
    assert isinstance(results[1], APIError) and results[1].message == EXCEEDED_LAST_SLOT.format("b")
    assert store.conflicts == 1  # b's write lost, b re-read the quota and no longer fit
    assert _used(store) == {"pods": "2"}


@pytest.mark.parametrize("seed", range(40))
def test_concurrent_creates_on_three_replicas_never_over_admit(seed):
    store = FakeStore(rng=random.Random(seed))
    store.put(RESOURCE_QUOTAS, quota("q", {"pods": "4"}, {"pods": "0"}))
    replicas = [_replica(store) for _ in range(3)]
    calls = [replicas[i % 3].validate(create(pod(f"p{i}"), "pods")) for i in range(9)]
    results = asyncio.run(_race(*calls))
    admitted = [r for r in results if r is None]
    assert 1 <= len(admitted) <= 4
    assert _used(store) == {"pods": str(len(admitted))}
    for err in results:
        if err is not None:
            assert isinstance(err, APIError) and (err.code, err.reason) in (
                (403, "Forbidden"), (409, "Conflict"))


def test_conflicts_are_retried_three_times_then_returned():
    store = FakeStore()
    store.put(RESOURCE_QUOTAS, quota("q", {"pods": "10"}))
    attempts = []

    async def contended(obj):
        attempts.append(obj["metadata"]["resourceVersion"])
        store.put(RESOURCE_QUOTAS, store.stored_obj(RESOURCE_QUOTAS, "ns", "q"))  # someone else wrote
        return await store.update_quota_status(obj)

    plugin = ResourceQuota(store, FakeCtx(), contended)
    with pytest.raises(APIError) as err:
        asyncio.run(plugin.validate(create(pod("a"), "pods")))
    assert len(attempts) == 4
    assert err.value.code == 409 and err.value.message == (
        'Operation cannot be fulfilled on resourcequotas "q": the object has been modified; '
        "please apply your changes to the latest version and try again")


def test_dry_run_is_checked_but_not_charged():
    store = FakeStore()
    store.put(RESOURCE_QUOTAS, quota("q", {"pods": "1"}, {"pods": "0"}))
    plugin = _replica(store)
    asyncio.run(plugin.validate(create(pod("a"), "pods", dry_run=True)))
    assert _used(store) == {"pods": "0"} and store.status_writes == 0
    store.put(RESOURCE_QUOTAS, quota("q", {"pods": "1"}, {"pods": "1"}))
    with pytest.raises(APIError) as err:
        asyncio.run(plugin.validate(create(pod("b"), "pods", dry_run=True)))
    assert err.value.code == 403


def test_own_writes_are_seen_while_the_watch_cache_lags():
    store = FakeStore(auto_sync=False)
    store.put(RESOURCE_QUOTAS, quota("q", {"pods": "2"}, {"pods": "0"}))
    store.sync()
    plugin = _replica(store)
    asyncio.run(plugin.validate(create(pod("a"), "pods")))
    asyncio.run(plugin.validate(create(pod("b"), "pods")))  # cache still says used 0
    assert store.conflicts == 0 and _used(store) == {"pods": "2"}
    with pytest.raises(APIError) as err:
        asyncio.run(plugin.validate(create(pod("c"), "pods")))
    assert err.value.message == EXCEEDED_LAST_SLOT.format("c")
    store.sync()  # the cache caught up: its copy is used again
    with pytest.raises(APIError):
        asyncio.run(plugin.validate(create(pod("d"), "pods")))


def test_quota_not_yet_in_the_cache_is_found_by_a_live_list():
    store = FakeStore(auto_sync=False)
    store.put(RESOURCE_QUOTAS, quota("q", {"pods": "1"}, {"pods": "1"}))
    with pytest.raises(APIError) as err:
        asyncio.run(_replica(store).validate(create(pod("a"), "pods")))
    assert err.value.code == 403 and store.live_reads == [(RESOURCE_QUOTAS, "ns")]


def test_requests_quota_never_applies_to():
    store = FakeStore()
    store.put(RESOURCE_QUOTAS, quota("q", {"pods": "0", "count/events": "0"}))
    plugin = _replica(store)
    subresource = create(pod("a"), "pods")
    subresource.subresource = "status"
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "ns"}}
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}}
    ns_create = create(namespace("ns"), "namespaces")
    ns_create.namespace = "ns"
    for attrs in (subresource, create(event, "events"), create(node, "nodes"), ns_create):
        asyncio.run(plugin.validate(attrs))
    assert store.status_writes == 0


def test_no_quotas_admits_without_writes():
    store = FakeStore()
    asyncio.run(_replica(store).validate(create(pod("a"), "pods")))
    assert store.status_writes == 0 and store.live_reads == [(RESOURCE_QUOTAS, "ns")]


def test_lister_failure_reaches_every_waiting_request():
    class Broken(FakeStore):
        async def list(self, resource, namespace, *, live=False):
            raise RuntimeError("etcd unavailable")

    store = Broken()
    plugin = _replica(store)
    results = asyncio.run(_race(plugin.validate(create(pod("a"), "pods")),
                                plugin.validate(create(pod("b"), "pods"))))
    assert [str(r) for r in results] == ["etcd unavailable", "etcd unavailable"]
