"""NamespaceLifecycle: missing, terminating and immortal namespaces, the cache-lag paths."""

from __future__ import annotations

import asyncio

import pytest

from kubesim.api.status import APIError
from kubesim.components.apiserver.admission import Attributes, Operation
from kubesim.components.apiserver.admission.namespace_lifecycle import NamespaceLifecycle
from tests.components.apiserver.admission.fakes import (
    NAMESPACES,
    FakeCtx,
    FakeStore,
    create,
    namespace,
    pod,
)


def _plugin(store: FakeStore, ctx: FakeCtx | None = None) -> NamespaceLifecycle:
    return NamespaceLifecycle(store, ctx or FakeCtx())


def _delete(resource: str, name: str, ns: str = "", kind: str = "") -> Attributes:
    return Attributes(Operation.DELETE, resource, kind=kind, namespace=ns, name=name)


def test_create_in_active_namespace_is_admitted():
    store = FakeStore()
    store.put(NAMESPACES, namespace("ns"))
    ctx = FakeCtx()
    asyncio.run(_plugin(store, ctx).admit(create(pod(), "pods")))
    assert ctx.slept == [] and store.live_reads == []


def test_create_in_missing_namespace_is_404_after_wait_and_live_read():
    store = FakeStore()
    ctx = FakeCtx()
    with pytest.raises(APIError) as err:
        asyncio.run(_plugin(store, ctx).admit(create(pod(ns="nope"), "pods")))
    assert err.value.code == 404
    assert err.value.status == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'namespaces "nope" not found', "reason": "NotFound",
        "details": {"name": "nope", "kind": "namespaces"}, "code": 404}
    assert ctx.slept == [0.05]
    assert store.live_reads == [(NAMESPACES, "")]


def test_namespace_reaching_the_cache_during_the_wait_is_admitted():
    store = FakeStore(auto_sync=False)
    store.put(NAMESPACES, namespace("ns"))  # stored, not yet in the cache
    ctx = FakeCtx()
    ctx.on_sleep.append(store.sync)
    asyncio.run(_plugin(store, ctx).admit(create(pod(), "pods")))
    assert ctx.slept == [0.05] and store.live_reads == []


def test_namespace_only_in_storage_is_found_by_the_live_read():
    store = FakeStore(auto_sync=False)
    store.put(NAMESPACES, namespace("ns"))
    asyncio.run(_plugin(store).admit(create(pod(), "pods")))
    assert store.live_reads == [(NAMESPACES, "")]


def test_update_in_missing_namespace_does_not_wait():
    store = FakeStore()
    ctx = FakeCtx()
    obj = pod(ns="gone")
    attrs = Attributes(Operation.UPDATE, "pods", kind="Pod", namespace="gone", name="p",
                       object=obj, old_object=obj)
    with pytest.raises(APIError) as err:
        asyncio.run(_plugin(store, ctx).admit(attrs))
    assert err.value.code == 404 and ctx.slept == []


def test_create_in_terminating_namespace_is_forbidden_with_cause():
    store = FakeStore()
    store.put(NAMESPACES, namespace("ns", "Terminating"))
    with pytest.raises(APIError) as err:
        asyncio.run(_plugin(store).admit(create(pod("web"), "pods")))
    assert err.value.code == 403
    assert err.value.message == ('pods "web" is forbidden: unable to create new content in '
                                 "namespace ns because it is being terminated")
    assert err.value.status["details"] == {
        "name": "web", "kind": "pods",
        "causes": [{"reason": "NamespaceTerminating", "message": "namespace ns is being terminated",
                    "field": "metadata.namespace"}]}


def test_update_and_delete_in_terminating_namespace_are_admitted():
    store = FakeStore()
    store.put(NAMESPACES, namespace("ns", "Terminating"))
    obj = pod()
    plugin = _plugin(store)
    asyncio.run(plugin.admit(Attributes(Operation.UPDATE, "pods", kind="Pod", namespace="ns",
                                        name="p", object=obj, old_object=obj)))
    asyncio.run(plugin.admit(_delete("pods", "p", "ns", "Pod")))
    asyncio.run(plugin.admit(_delete("pods", "p", "missing", "Pod")))


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public"])
def test_immortal_namespaces_cannot_be_deleted(name):
    with pytest.raises(APIError) as err:
        asyncio.run(_plugin(FakeStore()).admit(_delete("namespaces", name, kind="Namespace")))
    assert err.value.code == 403
    assert err.value.message == f'namespaces "{name}" is forbidden: this namespace may not be deleted'


def test_cluster_scoped_and_namespace_objects_pass():
    plugin = _plugin(FakeStore())
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}
    asyncio.run(plugin.admit(create(node, "nodes")))
    asyncio.run(plugin.admit(create(namespace("fresh"), "namespaces")))
    asyncio.run(plugin.admit(_delete("namespaces", "other", kind="Namespace")))


def test_recently_deleted_namespace_is_read_live_for_30s():
    store = FakeStore(auto_sync=False)
    store.put(NAMESPACES, namespace("ns"))
    store.sync()  # the cache shows it Active ...
    ctx = FakeCtx()
    plugin = _plugin(store, ctx)
    asyncio.run(plugin.admit(_delete("namespaces", "ns", kind="Namespace")))
    store.put(NAMESPACES, namespace("ns", "Terminating"))  # ... storage already Terminating
    with pytest.raises(APIError) as err:
        asyncio.run(plugin.admit(create(pod(), "pods")))
    assert err.value.code == 403 and store.live_reads == [(NAMESPACES, "")]
    ctx.time += 30.0  # the force-live-lookup entry expired: the (stale) cache decides again
    asyncio.run(plugin.admit(create(pod(), "pods")))
    assert len(store.live_reads) == 1
