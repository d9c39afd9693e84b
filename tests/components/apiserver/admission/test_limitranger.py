"""LimitRanger: defaults and annotations, min / max / ratio for containers and pods."""

from __future__ import annotations

import asyncio

import pytest

from kubesim.api.status import APIError
from kubesim.components.apiserver.admission.attributes import Operation
from kubesim.components.apiserver.admission.limitranger import LimitRanger
from tests.components.apiserver.admission.fakes import (
    LIMIT_RANGES,
    FakeCtx,
    FakeStore,
    container,
    create,
    limit_range,
    pod,
    update,
)

CONTAINER_DEFAULTS = {"type": "Container", "default": {"cpu": "500m", "memory": "256Mi"},
                      "defaultRequest": {"cpu": "100m", "memory": "128Mi"}}


def _plugin(*ranges, store=None):
    store = store or FakeStore()
    for lr in ranges:
        store.put(LIMIT_RANGES, lr)
    return LimitRanger(store, FakeCtx()), store


def _run(plugin, attrs):
    asyncio.run(plugin.admit(attrs))
    asyncio.run(plugin.validate(attrs))
    return attrs.object


def test_defaults_fill_missing_requests_and_limits_and_annotate():
    plugin, _ = _plugin(limit_range("lr", CONTAINER_DEFAULTS))
    obj = pod(containers=[container("app"), container("side", requests={"cpu": "50m"})],
              initContainers=[container("init", limits={"memory": "64Mi"},
                                        requests={"memory": "64Mi"})])
    _run(plugin, create(obj, "pods"))
    app, side = obj["spec"]["containers"]
    assert app["resources"] == {"limits": {"cpu": "500m", "memory": "256Mi"},
                                "requests": {"cpu": "100m", "memory": "128Mi"}}
    assert side["resources"]["requests"] == {"cpu": "50m", "memory": "128Mi"}
    init = obj["spec"]["initContainers"][0]["resources"]
    assert init == {"limits": {"memory": "64Mi", "cpu": "500m"},
                    "requests": {"memory": "64Mi", "cpu": "100m"}}
    assert obj["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container app; "
        "cpu, memory limit for container app; memory request for container side; "
        "cpu, memory limit for container side; cpu request for init container init; "
        "cpu limit for init container init")


def test_no_limit_ranges_changes_nothing():
    plugin, _ = _plugin()
    obj = pod()
    _run(plugin, create(obj, "pods"))
    assert obj["spec"]["containers"][0]["resources"] == {}
    assert "annotations" not in obj["metadata"]


def _violation(item, obj, *ranges):
    plugin, _ = _plugin(limit_range("lr", item), *ranges)
    with pytest.raises(APIError) as err:
        _run(plugin, create(obj, "pods"))
    assert err.value.code == 403
    return err.value.message


def test_container_max():
    item = {"type": "Container", "max": {"cpu": "1"}}
    assert _violation(item, pod("web", containers=[container(limits={"cpu": "2"})])) == \
        'pods "web" is forbidden: maximum cpu usage per Container is 1, but limit is 2'
    assert _violation(item, pod("web", containers=[container(requests={"cpu": "500m"})])) == \
        'pods "web" is forbidden: maximum cpu usage per Container is 1.  No limit is specified'


def test_container_min():
    item = {"type": "Container", "min": {"memory": "64Mi"}}
    assert _violation(item, pod("web", containers=[container()])) == \
        'pods "web" is forbidden: minimum memory usage per Container is 64Mi.  No request is specified'
    obj = pod("web", containers=[container(requests={"memory": "32Mi"}, limits={"memory": "32Mi"})])
    assert _violation(item, obj) == \
        'pods "web" is forbidden: minimum memory usage per Container is 64Mi, but request is 32Mi'


def test_max_limit_request_ratio():
    item = {"type": "Container", "maxLimitRequestRatio": {"cpu": "2"}}
    obj = pod("web", containers=[container(requests={"cpu": "100m"}, limits={"cpu": "300m"})])
    assert _violation(item, obj) == ('pods "web" is forbidden: cpu max limit to request ratio per '
                                     "Container is 2, but provided ratio is 3.000000")
    assert _violation(item, pod("web", containers=[container(limits={"cpu": "1"})])) == (
        'pods "web" is forbidden: cpu max limit to request ratio per Container is 2, but no '
        "request is specified or request is 0")
    plugin, _ = _plugin(limit_range("lr", item))
    _run(plugin, create(pod(containers=[container(requests={"cpu": "100m"},
                                                  limits={"cpu": "200m"})]), "pods"))


def test_several_violations_are_listed_together():
    item = {"type": "Container", "max": {"cpu": "1", "memory": "1Gi"}}
    obj = pod("web", containers=[container("a", limits={"cpu": "2", "memory": "2Gi"}),
                                 container("b", limits={"cpu": "2", "memory": "512Mi"})])
    assert _violation(item, obj) == (
        'pods "web" is forbidden: [maximum cpu usage per Container is 1, but limit is 2, '
        "maximum memory usage per Container is 1Gi, but limit is 2Gi]")


def test_pod_limits_use_pod_totals():
    item = {"type": "Pod", "max": {"cpu": "1"}}
    obj = pod("web", containers=[container("a", limits={"cpu": "600m"}),
                                 container("b", limits={"cpu": "600m"})])
    assert _violation(item, obj) == \
        'pods "web" is forbidden: maximum cpu usage per Pod is 1, but limit is 1200m'
    # an init container counts as the max with the containers, not on top of them
    plugin, _ = _plugin(limit_range("lr", item))
    ok = pod(containers=[container("a", limits={"cpu": "600m"})],
             initContainers=[container("i", limits={"cpu": "900m"})])
    _run(plugin, create(ok, "pods"))
    # a sidecar (restartable init container) runs alongside them
    sidecar = container("s", limits={"cpu": "500m"})
    sidecar["restartPolicy"] = "Always"
    bad = pod("web", containers=[container("a", limits={"cpu": "600m"})], initContainers=[sidecar])
    assert _violation(item, bad) == \
        'pods "web" is forbidden: maximum cpu usage per Pod is 1, but limit is 1100m'


def test_defaults_are_applied_before_limits_are_checked():
    item = {"type": "Container", "max": {"cpu": "1"}, "default": {"cpu": "1"},
            "defaultRequest": {"cpu": "1"}}
    plugin, _ = _plugin(limit_range("lr", item))
    obj = pod()
    _run(plugin, create(obj, "pods"))
    assert obj["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "1"},
                                                         "requests": {"cpu": "1"}}


def test_pod_updates_subresources_and_other_kinds_are_not_limited():
    item = {"type": "Container", "max": {"cpu": "1"}}
    plugin, _ = _plugin(limit_range("lr", item))
    big = pod(containers=[container(limits={"cpu": "8"})])
    _run(plugin, update(big, pod(), "pods"))
    status_update = create(pod(containers=[container(limits={"cpu": "8"})]), "pods")
    status_update.subresource = "status"
    _run(plugin, status_update)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"}}
    _run(plugin, create(cm, "configmaps"))
    deleting = pod(containers=[container(limits={"cpu": "8"})])
    attrs = create(deleting, "pods")
    attrs.old_object = {"metadata": {"name": "p", "deletionTimestamp": "2024-01-01T00:00:00Z"}}
    assert attrs.operation == Operation.CREATE
    _run(plugin, attrs)


def test_limit_ranges_missing_from_the_cache_are_listed_live_once_per_30s():
    store = FakeStore(auto_sync=False)
    store.put(LIMIT_RANGES, limit_range("lr", {"type": "Container", "max": {"cpu": "1"}}))
    ctx = FakeCtx()
    plugin = LimitRanger(store, ctx)
    too_big = pod("web", containers=[container(limits={"cpu": "2"})])

    async def three_at_once():
        return await asyncio.gather(*(plugin.validate(create(too_big, "pods")) for _ in range(3)),
                                    return_exceptions=True)

    results = asyncio.run(three_at_once())
    assert [r.code for r in results] == [403, 403, 403]
    assert store.live_reads == [(LIMIT_RANGES, "ns")]  # one live list for all three
    store.stored[LIMIT_RANGES].clear()
    with pytest.raises(APIError):  # still within the TTL: the remembered live answer holds
        asyncio.run(plugin.validate(create(too_big, "pods")))
    ctx.time += 30.0
    asyncio.run(plugin.validate(create(too_big, "pods")))
    assert len(store.live_reads) == 2
