"""Node lifecycle and taint eviction: Unknown after the 40 s grace period, NoExecute taints
at the zone's rate, eviction after tolerationSeconds, partial and full disruption."""

from __future__ import annotations

from typing import Any

import pytest

from kubesim.api import meta
from kubesim.components.controllers.nodelifecycle import zones
from kubesim.components.controllers.nodelifecycle.health import try_update_node_health
from kubesim.components.controllers.nodelifecycle.taint_eviction import min_toleration_time
from tests.components.controllers.harness import EPOCH, Cluster, template

LABELS = {"app": "web"}
UNREACHABLE = "node.kubernetes.io/unreachable"


# -- pure pieces -----------------------------------------------------------------------------
def test_zone_states():
    assert zones.compute_zone_state(["True"] * 4, 0.55) == (0, zones.NORMAL)
    assert zones.compute_zone_state(["True", "True", "Unknown", "False"], 0.55) == (2, zones.NORMAL)
    assert zones.compute_zone_state(["True", "Unknown", "Unknown", "False"], 0.55) == (3, zones.PARTIAL_DISRUPTION)
    assert zones.compute_zone_state(["True"] * 3 + ["Unknown"] * 3, 0.55) == (3, zones.NORMAL)  # 50 % < 55 %
    assert zones.compute_zone_state(["Unknown", None], 0.55) == (2, zones.FULL_DISRUPTION)


def test_zone_rates_follow_the_flags():
    rates = zones.EvictionRates()
    assert rates.qps(zones.NORMAL, 10) == 0.1
    assert rates.qps(zones.FULL_DISRUPTION, 10) == 0.1
    assert rates.qps(zones.PARTIAL_DISRUPTION, 50) == 0.0
    assert rates.qps(zones.PARTIAL_DISRUPTION, 51) == 0.01


def test_rate_limited_queue_releases_one_node_per_token():
    q = zones.RateLimitedTimedQueue(0.1, 1, now=0.0)
    for name in ("a", "b", "c"):
        assert q.add(name, "", now=0.0)
    assert not q.add("a", "", now=0.0)  # unique until removed
    released = []
    for t in [x * 0.1 for x in range(250)]:
        item = q.next_due(t)
        if item is not None:
            released.append((item.value, round(t, 1)))
            q.done(item)
    assert [v for v, _ in released] == ["a", "b", "c"]
    assert [t for _, t in released] == pytest.approx([0.0, 10.0, 20.0], abs=0.11)
    assert not q.add("a", "", now=30.0)  # done but still known
    assert q.remove("a") and q.add("a", "", now=30.0)


def _node(conditions: list[dict[str, Any]] | None) -> dict[str, Any]:
    node: dict[str, Any] = {"metadata": {"name": "n", "creationTimestamp": meta.timestamp(0)}, "status": {}}
    if conditions is not None:
        node["status"]["conditions"] = conditions
    return node


def _lease(t: float) -> dict[str, Any]:
    return {"spec": {"renewTime": meta.micro_timestamp(t)}}


def test_health_unknown_after_grace_period_without_lease_renewals():
    ready = [{"type": "Ready", "status": "True", "lastHeartbeatTime": meta.timestamp(0),
              "lastTransitionTime": meta.timestamp(0)}]
    v = try_update_node_health(_node(ready), None, _lease(0), 0.0, 40, 60)
    assert v.update is None
    for t in (10.0, 20.0, 30.0):
        v = try_update_node_health(_node(ready), v.health, _lease(t), t, 40, 60)
        assert v.update is None
    v = try_update_node_health(_node(ready), v.health, _lease(30.0), 70.0, 40, 60)
    assert v.update is None  # 40 s since the last renewal seen: not yet past the grace period
    v = try_update_node_health(_node(ready), v.health, _lease(30.0), 70.5, 40, 60)
    conditions = {c["type"]: c for c in v.update["status"]["conditions"]}
    assert conditions["Ready"]["status"] == "Unknown"
    assert conditions["Ready"]["reason"] == "NodeStatusUnknown"
    assert conditions["Ready"]["message"] == "Kubelet stopped posting node status."
    assert conditions["MemoryPressure"]["reason"] == "NodeStatusNeverUpdated"
    assert v.observed["status"] == "True" and v.current["status"] == "Unknown"


def test_health_startup_grace_for_a_node_that_never_posted_status():
    v = try_update_node_health(_node(None), None, None, 50.0, 40, 60)
    assert v.update is None and v.grace_period == 60
    v = try_update_node_health(_node(None), v.health, None, 61.0, 40, 60)
    assert v.update is not None


def test_toleration_times():
    taint = {"key": UNREACHABLE, "effect": "NoExecute"}
    default = {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
    assert min_toleration_time([taint], [default]) == 300
    assert min_toleration_time([taint], []) is None
    assert min_toleration_time([taint], [{"operator": "Exists"}]) == -1
    assert min_toleration_time([taint], [default, {"key": UNREACHABLE, "operator": "Exists",
                                                   "effect": "NoExecute", "tolerationSeconds": 60}]) == 300


# -- on the sim runtime ----------------------------------------------------------------------
def taint(c: Cluster, node: str, key: str, effect: str = "NoExecute") -> dict[str, Any] | None:
    n = c.api.find("nodes", "", node)
    return next((t for t in n.get("spec", {}).get("taints", []) if t["key"] == key and t["effect"] == effect), None)


def ready_status(c: Cluster, node: str) -> str:
    n = c.api.find("nodes", "", node)
    return next(x["status"] for x in n["status"]["conditions"] if x["type"] == "Ready")


def stamp(text: str) -> float:
    return meta.parse_timestamp(text) - EPOCH


def test_dead_node_is_tainted_and_its_pods_evicted_after_300s():
    c = Cluster(seed=2, heartbeats=True, nodes=[f"node-{i}" for i in range(6)],
                controllers=("replicaset", "nodelifecycle", "taint-eviction-controller"))
    try:
        c.create("replicasets.apps", {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web"},
                                      "spec": {"replicas": 6, "selector": {"matchLabels": LABELS},
                                               "template": template(LABELS)}})
        c.run_for(30)
        victims = [p["metadata"]["name"] for p in c.pods() if p["spec"]["nodeName"] == "node-0"]
        assert len(victims) == 1
        c.dead.add("node-0")  # its last lease renewal was at t=30
        c.run_until(lambda: ready_status(c, "node-0") == "Unknown", timeout=60)
        went_unknown = c.rt.now()
        assert 30 + 40 < went_unknown <= 30 + 40 + 5 + 0.5
        victim = c.api.find("pods", "default", victims[0])
        assert next(x for x in victim["status"]["conditions"] if x["type"] == "Ready")["status"] == "False"
        c.run_until(lambda: taint(c, "node-0", UNREACHABLE) is not None, timeout=10, step=0.1)
        tainted = stamp(taint(c, "node-0", UNREACHABLE)["timeAdded"])
        assert went_unknown <= tainted <= went_unknown + 5 + 0.2
        c.run_until(lambda: taint(c, "node-0", UNREACHABLE, "NoSchedule") is not None, timeout=5)
        assert ready_status(c, "node-1") == "True" and taint(c, "node-1", UNREACHABLE) is None

        c.run_for(290)
        assert c.api.find("pods", "default", victims[0]) is not None  # tolerated for 300 s
        c.run_until(lambda: c.api.find("pods", "default", victims[0]) is None, timeout=20, step=0.1)
        assert 300 <= c.rt.now() - tainted <= 300 + 1
        events = [e["reason"] for e in c.api.objects("events", "default")
                  if e["involvedObject"].get("name") == victims[0]]
        assert "TaintManagerEviction" in events and "NodeNotReady" in events

        c.revive("node-0")
        c.run_until(lambda: taint(c, "node-0", UNREACHABLE) is None
                    and taint(c, "node-0", UNREACHABLE, "NoSchedule") is None, timeout=15)
    finally:
        c.close()


def _killed_cluster(nodes: int, kill: int, seed: int = 4) -> tuple[Cluster, list[str]]:
    names = [f"node-{i}" for i in range(nodes)]
    c = Cluster(seed=seed, heartbeats=True, nodes=names, zones=("zone-a",), kubelet_delay=None,
                controllers=("nodelifecycle",))
    c.run_for(20)
    dead = names[:kill]
    c.dead.update(dead)
    return c, dead


def test_normal_zone_taints_one_node_per_10_seconds():
    c, dead = _killed_cluster(nodes=8, kill=2)
    try:
        c.run_until(lambda: all(taint(c, n, UNREACHABLE) for n in dead), timeout=120, step=0.1)
        times = sorted(stamp(taint(c, n, UNREACHABLE)["timeAdded"]) for n in dead)
        assert times[1] - times[0] == pytest.approx(10, abs=1)  # --node-eviction-rate 0.1
    finally:
        c.close()


def test_partially_disrupted_small_zone_stops_tainting():
    c, dead = _killed_cluster(nodes=4, kill=3)
    try:
        c.run_until(lambda: all(ready_status(c, n) == "Unknown" for n in dead), timeout=70)
        c.run_for(120)
        assert [taint(c, n, UNREACHABLE) for n in dead] == [None, None, None]
    finally:
        c.close()


def test_partially_disrupted_large_zone_uses_the_secondary_rate():
    c, dead = _killed_cluster(nodes=60, kill=40)
    try:
        c.run_until(lambda: sum(taint(c, n, UNREACHABLE) is not None for n in dead) >= 2, timeout=400, step=1)
        times = sorted(stamp(t["timeAdded"]) for n in dead if (t := taint(c, n, UNREACHABLE)))
        assert times[1] - times[0] == pytest.approx(100, abs=2)  # --secondary-node-eviction-rate 0.01
    finally:
        c.close()


def test_all_zones_fully_disrupted_stops_all_evictions():
    c, dead = _killed_cluster(nodes=3, kill=3)
    try:
        c.run_until(lambda: all(ready_status(c, n) == "Unknown" for n in dead), timeout=70)
        c.run_for(60)
        assert [taint(c, n, UNREACHABLE) for n in dead] == [None, None, None]
    finally:
        c.close()


def test_a_failed_taint_update_is_tried_again_on_the_next_pass():
    """SwapNodeControllerTaint returns false on an API error (upstream logs it, the node
    stays queued): a timed-out update must neither stop the controller nor lose the taint."""
    from kubesim.api import status

    c, dead = _killed_cluster(nodes=4, kill=1)
    update, failed = c.api.update, []

    async def flaky_update(resource: str, obj: dict[str, Any], subresource: str = "") -> dict[str, Any]:
        no_execute = any(t["effect"] == "NoExecute" for t in obj.get("spec", {}).get("taints", []))
        if resource == "nodes" and not subresource and no_execute and len(failed) < 3:
            failed.append(c.rt.now())
            raise status.timeout("request did not complete within requested timeout")
        return await update(resource, obj, subresource)

    c.api.update = flaky_update  # type: ignore[method-assign]
    try:
        c.run_until(lambda: taint(c, dead[0], UNREACHABLE) is not None, timeout=120, step=0.1)
        assert len(failed) == 3
        assert not c.rt.host.errors
    finally:
        c.close()
