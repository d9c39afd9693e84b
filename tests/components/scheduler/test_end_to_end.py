"""1,000 pods of mixed requests, priorities, tolerations, node affinity, anti-affinity and
topology spread (their own, and the system defaults for pods that Services select) onto 100
nodes in 3 zones, through the scheduler actor and the in-memory
apiserver on sim: every pod is placed where the plugin chain says (checked at every
decision by the ChainOracle, with the cache replayed), bound exactly once, no node is ever
over-committed (checked at every write), and every Filter of the default profile holds for
every bound pod at the end. A bigger run (3,000 pods, 300 nodes, every node scored) is
slow-marked."""

from __future__ import annotations

import random
from typing import Any

import pytest

from kubesim.components.scheduler.framework import Framework
from kubesim.components.scheduler.interfaces import CycleState
from kubesim.components.scheduler.nodeinfo import PodInfo
from kubesim.components.scheduler.resources import node_allocatable
from kubesim.components.scheduler.snapshot import Snapshot

from .helpers import node, pod
from .oracle import ChainOracle
from .test_actor import Cluster

ZONE = "topology.kubernetes.io/zone"
GPU_TAINT = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}


def make_nodes(count: int) -> list[dict[str, Any]]:
    nodes = []
    for i in range(count):
        labels = {ZONE: f"zone-{i % 3}", "disk": "ssd" if i % 2 else "hdd"}
        taints = []
        if i < 10:
            labels["gpu"] = "true"
            taints = [GPU_TAINT]
        elif i % 7 == 0:
            taints = [{"key": "spot", "value": "true", "effect": "PreferNoSchedule"}]
        size = ("8", "32Gi") if i % 4 else ("16", "64Gi")
        nodes.append(node(f"node-{i:05}", cpu=size[0], memory=size[1], labels=labels, taints=taints))
    return nodes


def make_pods(rng: random.Random, count: int) -> list[dict[str, Any]]:
    pods = []
    for i in range(count):
        cpu = rng.choice(["100m", "250m", "500m", "1"])
        mem = rng.choice(["128Mi", "512Mi", "1Gi", "2Gi"])
        kind = i % 10
        extra: dict[str, Any] = {}
        labels = {"app": f"app-{kind}"}
        if kind == 0:    # GPU work: only on the tainted GPU nodes
            extra = {"nodeSelector": {"gpu": "true"}, "tolerations": [{"key": "dedicated", "operator": "Equal",
                                                                       "value": "gpu", "effect": "NoSchedule"}]}
            cpu, mem = "250m", "512Mi"
        elif kind == 1 and i % 20 == 1:  # one per node (1 in 20 pods, for the untainted 90% of nodes)
            labels = {"app": "cache"}
            extra = {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "kubernetes.io/hostname"}]}}}
        elif kind == 2:  # evenly over zones
            labels = {"app": "web"}
            extra = {"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": ZONE,
                                                    "whenUnsatisfiable": "DoNotSchedule",
                                                    "labelSelector": {"matchLabels": {"app": "web"}}}]}
        elif kind == 3:  # SSD only
            extra = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}]}}}}
        elif kind == 4:  # rather zone-0, rather near app-5 pods
            extra = {"affinity": {
                "nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 50, "preference": {"matchExpressions": [{"key": ZONE, "operator": "In",
                                                                        "values": ["zone-0"]}]}}]},
                "podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 20, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "app-5"}},
                                                       "topologyKey": "kubernetes.io/hostname"}}]}}}
        pods.append(pod(f"pod-{i:05}", cpu=cpu, memory=mem, labels=labels, priority=rng.choice([0, 100, 1000]), **extra))
    return pods


class CapacityCheck:
    """Observer of every apiserver write: a pod's requests count on its node from the write
    that binds it; no node may ever hold more than its allocatable or its pod capacity."""

    def __init__(self, nodes: list[dict[str, Any]]) -> None:
        self.allocatable = {n["metadata"]["name"]: node_allocatable(n) for n in nodes}
        self.used: dict[str, list[int]] = {name: [0, 0, 0] for name in self.allocatable}
        self.placed: dict[str, str] = {}

    def __call__(self, event: str, resource: str, obj: dict[str, Any]) -> None:
        if resource != "pods":
            return
        uid, node_name = obj["metadata"]["uid"], obj["spec"].get("nodeName")
        if not node_name or uid in self.placed:
            assert event != "DELETED", "no pod is deleted in this test"
            return
        self.placed[uid] = node_name
        pi = PodInfo(obj)
        used, cap = self.used[node_name], self.allocatable[node_name]
        used[0] += pi.request.milli_cpu
        used[1] += pi.request.memory
        used[2] += 1
        assert used[0] <= cap.milli_cpu and used[1] <= cap.memory and used[2] <= cap.allowed_pod_number, node_name


def test_thousand_pods_onto_hundred_nodes():
    run(nodes=100, pods=1000, seed=7)


@pytest.mark.slow
def test_three_thousand_pods_onto_three_hundred_nodes():
    run(nodes=300, pods=3000, seed=8, percentage=100)


def node_index(name: str) -> int:
    return int(name.split("-")[1])


def run(nodes: int, pods: int, seed: int, percentage: int | None = None) -> None:
    """``percentage``: the profile's percentageOfNodesToScore (None: the adaptive default,
    which at 100 nodes scores every node, so the oracle checks every Score)."""
    cluster = Cluster(seed=seed)
    node_objs, pod_objs = make_nodes(nodes), make_pods(random.Random(seed), pods)
    check = CapacityCheck(node_objs)
    cluster.api.observers.append(check)
    oracle = ChainOracle(track_pods=True)
    profile: dict[str, Any] = {"schedulerName": "default-scheduler", "plugins": oracle.profile_plugins()}
    if percentage is not None:
        profile["percentageOfNodesToScore"] = percentage
    config = {"profiles": [profile]}
    cluster.scheduler("s0", config=config, registry=oracle.registry())
    api = cluster.api

    async def main():
        for n in node_objs:
            await api.create("nodes", n)
        for app in ("app-5", "app-6", "app-7", "app-8", "app-9"):  # their pods get the default spread
            await api.create("services", {"apiVersion": "v1", "kind": "Service",
                                          "metadata": {"name": app, "namespace": "default"},
                                          "spec": {"selector": {"app": app}, "ports": [{"port": 80}]}})
        for p in pod_objs:
            await api.create("pods", p)
        await cluster.until(lambda: len(check.placed) == pods, timeout=300 + pods / 5)

    try:
        cluster.run(main)
        final_pods = api.objects("pods")
        labels = {"instance": "s0", "profile": "default-scheduler"}
        scheduled = cluster.metric("scheduler_schedule_attempts_total", result="scheduled", **labels)
    finally:
        cluster.close()

    keys = [k for k, _ in api.bindings]
    assert len(keys) == len(set(keys)) == pods
    assert scheduled == pods
    assert oracle.errors == []
    assert oracle.checked == pods and oracle.scored > 0.8 * pods
    # The placements follow the constraints...
    placed = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in final_pods}
    gpu_nodes = {f"node-{i:05}" for i in range(10)}
    assert all(placed[f"pod-{i:05}"] in gpu_nodes for i in range(0, pods, 10))
    assert all(placed[f"pod-{i:05}"] not in gpu_nodes for i in range(pods) if i % 10)
    cache_nodes = [placed[f"pod-{i:05}"] for i in range(1, pods, 20)]
    assert len(set(cache_nodes)) == len(cache_nodes) == pods // 20
    web_zones = [node_index(placed[f"pod-{i:05}"]) % 3 for i in range(2, pods, 10)]
    counts = [web_zones.count(z) for z in range(3)]
    assert max(counts) - min(counts) <= 1
    # ...and, checked as preemption would check a node, every Filter holds for every pod.
    fwk = Framework()
    snap = Snapshot.from_nodes(node_objs, final_pods)
    fwk.handle.snapshot = snap
    for p in final_pods:
        pi = PodInfo(p)
        state = CycleState()
        _, status, _ = fwk.run_pre_filter(state, pi, snap.node_info_list)
        assert status.is_success(), (p["metadata"]["name"], status)
        ni = snap.get(p["spec"]["nodeName"]).clone()
        ni.remove_pod(pi.key)
        fwk.run_pre_filter_remove_pod(state, pi, pi, ni)
        status = fwk.run_filter_plugins(state, pi, ni)
        assert status.is_success(), (p["metadata"]["name"], status)
