"""The chain: plugin order, phases, and a pod create through every plugin."""

from __future__ import annotations

import asyncio

import pytest

from kubesim.api import defaults
from kubesim.api.status import APIError
from kubesim.components.apiserver.admission import DEFAULT_PLUGINS, Attributes, Operation, new_chain
from tests.components.apiserver.admission.fakes import (
    LIMIT_RANGES,
    NAMESPACES,
    PRIORITY_CLASSES,
    RESOURCE_QUOTAS,
    FakeCtx,
    FakeStore,
    create,
    limit_range,
    namespace,
    pod,
    priority_class,
    quota,
)


def _chain(store, plugins=DEFAULT_PLUGINS):
    return new_chain(store, store.update_quota_status, FakeCtx(), plugins)


def test_default_order_is_kube_apiserver_1_32():
    store = FakeStore()
    assert [p.name for p in _chain(store).plugins] == [
        "NamespaceLifecycle", "LimitRanger", "Priority", "DefaultTolerationSeconds", "ResourceQuota"]
    chain = _chain(store, ["ResourceQuota", "Priority"])
    assert [p.name for p in chain.plugins] == ["Priority", "ResourceQuota"]
    with pytest.raises(ValueError, match="unknown admission plugin"):
        _chain(store, ["AlwaysPullImages"])


def test_pod_create_through_every_plugin():
    store = FakeStore()
    store.put(NAMESPACES, namespace("ns"))
    store.put(PRIORITY_CLASSES, priority_class("standard", 100, global_default=True))
    store.put(LIMIT_RANGES, limit_range("lr", {
        "type": "Container", "default": {"cpu": "500m", "memory": "256Mi"},
        "defaultRequest": {"cpu": "250m", "memory": "128Mi"}}))
    store.put(RESOURCE_QUOTAS, quota("q", {"pods": "5", "requests.cpu": "1", "limits.memory": "1Gi"}))
    chain = _chain(store)
    obj = defaults.apply_defaults(pod("web"))
    attrs = create(obj, "pods")
    asyncio.run(chain.admit(attrs))
    spec = obj["spec"]
    assert spec["containers"][0]["resources"] == {"limits": {"cpu": "500m", "memory": "256Mi"},
                                                  "requests": {"cpu": "250m", "memory": "128Mi"}}
    assert (spec["priorityClassName"], spec["priority"]) == ("standard", 100)
    assert [t["key"] for t in spec["tolerations"]] == ["node.kubernetes.io/not-ready",
                                                       "node.kubernetes.io/unreachable"]
    assert store.status_writes == 0  # quota is charged in the validating phase
    asyncio.run(chain.validate(attrs))
    used = store.stored_obj(RESOURCE_QUOTAS, "ns", "q")["status"]["used"]
    assert used == {"limits.memory": "256Mi", "pods": "1", "requests.cpu": "250m"}


def test_first_rejection_wins():
    store = FakeStore()
    store.put(NAMESPACES, namespace("ns", "Terminating"))
    attrs = create(pod("web", priorityClassName="unknown"), "pods")
    with pytest.raises(APIError) as err:
        asyncio.run(_chain(store).admit(attrs))
    assert "being terminated" in err.value.message  # NamespaceLifecycle runs before Priority


def test_delete_and_connect():
    store = FakeStore()
    chain = _chain(store)
    with pytest.raises(APIError) as err:
        asyncio.run(chain.admit(Attributes(Operation.DELETE, "namespaces", kind="Namespace",
                                           name="kube-system")))
    assert err.value.code == 403
    stored = pod()
    asyncio.run(chain.validate(Attributes(Operation.DELETE, "pods", kind="Pod", namespace="ns",
                                          name="p", old_object=stored)))
    exec_options = {"kind": "PodExecOptions", "apiVersion": "v1", "command": ["sh"]}
    connect = Attributes(Operation.CONNECT, "pods", kind="PodExecOptions", subresource="exec",
                         namespace="missing", name="p", object=exec_options)
    asyncio.run(chain.admit(connect))
    asyncio.run(chain.validate(connect))
    assert store.live_reads == []
