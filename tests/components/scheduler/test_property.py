"""Property test of the scheduler actor on sim against the in-memory apiserver: random
nodes (sizes, zones, labels, NoSchedule / PreferNoSchedule taints, cordons) and random pods
from a few templates (requests, priorities, tolerations, node affinity, pod (anti-)affinity,
topology spread), created in two waves so that late high-priority pods preempt.

For every example:
- every decision is where the plugin chain says (:class:`ChainOracle` at Reserve);
- no node is ever over-committed, checked at every apiserver write;
- no pod is bound twice;
- every Filter holds for every bound pod at the end (only those no deletion can break when
  preemption deleted pods: a deletion may legitimately break a spread or affinity that held);
- a pod left pending carries a PodScheduled=False condition and fits no node (with the
  nominations the API shows): at once when nothing was preempted, so that the QueueingHints
  must have requeued every pod an event helped; and once unschedulable pods have been
  flushed (5 minutes) in any case. Preemption can leave a pod waiting for that flush, as
  upstream: a pod rejected because a preemptor was nominated to a node is not requeued when
  that nomination goes away (no cluster event says so).

Pods of one template share their constraints, so a topology spread that held at each
placement still holds at the end when nothing is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kubesim.components.scheduler.framework import Framework
from kubesim.components.scheduler.interfaces import CycleState
from kubesim.components.scheduler.nodeinfo import PodInfo
from kubesim.components.scheduler.queue import (
    DEFAULT_MAX_IN_UNSCHEDULABLE,
    UNSCHEDULABLE_FLUSH_PERIOD,
)
from kubesim.components.scheduler.resources import node_allocatable
from kubesim.components.scheduler.snapshot import Snapshot

from .helpers import node, only, pod
from .oracle import ChainOracle
from .test_actor import Cluster

ZONE = "topology.kubernetes.io/zone"
HOSTNAME = "kubernetes.io/hostname"
#: Filters no deletion of other pods can make fail.
DELETION_SAFE = ("NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity", "NodePorts",
                 "NodeResourcesFit")


@st.composite
def nodes_strategy(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for i in range(draw(st.integers(2, 9))):
        labels = {ZONE: f"z{draw(st.integers(0, 2))}", "disk": draw(st.sampled_from(["ssd", "hdd"]))}
        kind = draw(st.sampled_from(["plain", "plain", "plain", "gpu", "spot", "cordoned"]))
        taints = []
        if kind == "gpu":
            labels["gpu"] = "true"
            taints = [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
        elif kind == "spot":
            taints = [{"key": "spot", "value": "true", "effect": "PreferNoSchedule"}]
        out.append(node(f"n{i}", cpu=draw(st.sampled_from(["1", "2", "4"])),
                        memory=draw(st.sampled_from(["2Gi", "4Gi", "8Gi"])),
                        pods=draw(st.sampled_from([3, 8, 110])), labels=labels, taints=taints,
                        unschedulable=kind == "cordoned"))
    return out


@st.composite
def template_strategy(draw: st.DrawFn, index: int) -> dict[str, Any]:
    """The spec fields (and labels) every pod of template ``index`` shares."""
    app = f"t{index}"
    spec: dict[str, Any] = {}
    affinity: dict[str, Any] = {}
    features = draw(st.sets(st.sampled_from(
        ["ssd", "zones", "gpu", "anti", "spread", "soft-spread", "near", "with", "prefer-zone"]), max_size=3))
    if "ssd" in features:
        spec["nodeSelector"] = {"disk": "ssd"}
    if "zones" in features:
        zones = sorted(draw(st.sets(st.sampled_from(["z0", "z1", "z2"]), min_size=1, max_size=2)))
        affinity["nodeAffinity"] = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": ZONE, "operator": "In", "values": zones}]}]}}
    if "prefer-zone" in features:
        affinity.setdefault("nodeAffinity", {})["preferredDuringSchedulingIgnoredDuringExecution"] = [
            {"weight": draw(st.integers(1, 100)), "preference": {"matchExpressions": [
                {"key": ZONE, "operator": "In", "values": [f"z{draw(st.integers(0, 2))}"]}]}}]
    if "gpu" in features:
        spec["tolerations"] = [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]
    if "anti" in features:
        affinity["podAntiAffinity"] = {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": HOSTNAME}]}
    other = f"t{draw(st.integers(0, 3))}"
    if "near" in features:
        affinity["podAffinity"] = {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": draw(st.integers(1, 100)), "podAffinityTerm": {
                "labelSelector": {"matchLabels": {"app": other}}, "topologyKey": HOSTNAME}}]}
    if "with" in features:
        affinity.setdefault("podAffinity", {})["requiredDuringSchedulingIgnoredDuringExecution"] = [
            {"labelSelector": {"matchLabels": {"app": other}}, "topologyKey": ZONE}]
    spread = []
    if "spread" in features:
        spread.append({"maxSkew": draw(st.integers(1, 2)), "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule",
                       "labelSelector": {"matchLabels": {"app": app}}})
    if "soft-spread" in features:
        spread.append({"maxSkew": 1, "topologyKey": HOSTNAME, "whenUnsatisfiable": "ScheduleAnyway",
                       "labelSelector": {"matchLabels": {"app": app}}})
    if spread:
        spec["topologySpreadConstraints"] = spread
    if affinity:
        spec["affinity"] = affinity
    return {"labels": {"app": app}, "spec": spec}


@dataclass
class Workload:
    nodes: list[dict[str, Any]]
    waves: list[list[dict[str, Any]]]
    seed: int


@st.composite
def workload_strategy(draw: st.DrawFn, max_pods: int) -> Workload:
    nodes = draw(nodes_strategy())
    templates = [draw(template_strategy(i)) for i in range(4)]
    waves: list[list[dict[str, Any]]] = [[], []]
    for i in range(draw(st.integers(1, max_pods))):
        t = templates[draw(st.integers(0, 3))]
        p = pod(f"p{i:03}", cpu=draw(st.sampled_from(["100m", "300m", "500m", "1"])),
                memory=draw(st.sampled_from(["128Mi", "512Mi", "1Gi"])),
                priority=draw(st.sampled_from([0, 100, 1000])), labels=dict(t["labels"]), **t["spec"])
        waves[draw(st.integers(0, 1))].append(p)
    return Workload(nodes, waves, draw(st.integers(0, 2**16)))


class CapacityCheck:
    """Every apiserver write: no node holds more than its allocatable or pod capacity."""

    def __init__(self, nodes: list[dict[str, Any]]) -> None:
        self.allocatable = {n["metadata"]["name"]: node_allocatable(n) for n in nodes}
        self.placed: dict[str, tuple[str, PodInfo]] = {}
        self.violations: list[str] = []
        self.deleted = 0

    def __call__(self, event: str, resource: str, obj: dict[str, Any]) -> None:
        if resource != "pods":
            return
        uid, node_name = obj["metadata"]["uid"], obj["spec"].get("nodeName")
        if event == "DELETED":
            self.deleted += 1
            self.placed.pop(uid, None)
            return
        if not node_name or uid in self.placed:
            return
        self.placed[uid] = (node_name, PodInfo(obj))
        on_node = [pi for n, pi in self.placed.values() if n == node_name]
        cap = self.allocatable[node_name]
        cpu, mem = sum(pi.request.milli_cpu for pi in on_node), sum(pi.request.memory for pi in on_node)
        if cpu > cap.milli_cpu or mem > cap.memory or len(on_node) > cap.allowed_pod_number:
            self.violations.append(f"{node_name}: {cpu}m, {mem} bytes, {len(on_node)} pods")


class APINominations:
    """The nominations the API shows (pending pods' status.nominatedNodeName)."""

    def __init__(self, pods: list[dict[str, Any]]) -> None:
        self.by_node: dict[str, list[PodInfo]] = {}
        for p in pods:
            nominated = (p.get("status") or {}).get("nominatedNodeName")
            if nominated and not p["spec"].get("nodeName"):
                self.by_node.setdefault(nominated, []).append(PodInfo(p))

    def nominated_pods_for_node(self, node_name: str) -> list[PodInfo]:
        return list(self.by_node.get(node_name, ()))


def pending_that_fit(nodes: list[dict[str, Any]], pods: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Pending pods (each must have been reported Unschedulable) that some node would take,
    counting the nominations the API shows."""
    bound = [p for p in pods if p["spec"].get("nodeName")]
    pending = [p for p in pods if not p["spec"].get("nodeName")]
    snap = Snapshot.from_nodes(nodes, bound)
    full = Framework(nominator=APINominations(pending))
    full.handle.snapshot = snap
    out = {}
    for p in pending:
        conds = {c["type"]: c for c in p["status"].get("conditions") or ()}
        assert conds.get("PodScheduled", {}).get("status") == "False", p["metadata"]["name"]
        pi = PodInfo(p)
        state = CycleState()
        _, status, _ = full.run_pre_filter(state, pi, snap.node_info_list)
        if not status.is_success():
            continue
        fits = [ni.name for ni in snap.node_info_list
                if full.run_filter_plugins_with_nominated_pods(state, pi, ni).is_success()]
        if fits:
            out[p["metadata"]["name"]] = fits
    return out


def run_workload(w: Workload) -> None:
    cluster = Cluster(seed=w.seed)
    oracle = ChainOracle()
    config = {"profiles": [{"schedulerName": "default-scheduler", "plugins": oracle.profile_plugins()}]}
    address = cluster.scheduler("s0", config=config, registry=oracle.registry())
    api = cluster.api
    check = CapacityCheck(w.nodes)
    api.observers.append(check)

    async def settle() -> None:
        """Until nothing is queued, backing off, assumed or binding for 15 s."""
        quiet = 0
        while quiet < 15:
            await cluster.rt.sleep(1.0)
            st_ = await cluster.rt.ask(address, ["status"])
            busy = st_["pending"].get("active", 0) + st_["pending"].get("backoff", 0) + \
                st_["binding"] + st_["assumed"]
            quiet = 0 if busy else quiet + 1

    before_flush: list[dict[str, Any]] = []

    async def main() -> None:
        for n in w.nodes:
            await api.create("nodes", n)
        for wave in w.waves:
            for p in wave:
                await api.create("pods", p)
            await settle()
        before_flush.extend(api.objects("pods"))
        await cluster.rt.sleep(DEFAULT_MAX_IN_UNSCHEDULABLE + UNSCHEDULABLE_FLUSH_PERIOD + 1.0)
        await settle()

    try:
        cluster.run(main, limit=3600)
        final = api.objects("pods")
    finally:
        cluster.close()

    assert check.violations == []
    assert oracle.errors == []
    keys = [k for k, _ in api.bindings]
    assert len(keys) == len(set(keys))
    bound = [p for p in final if p["spec"].get("nodeName")]
    pending = [p for p in final if not p["spec"].get("nodeName")]
    assert oracle.checked >= len(bound)
    event("preemption deleted pods" if check.deleted else "nothing deleted")
    event("some pods left pending" if pending else "every pod bound")
    event("decisions scored" if oracle.scored else "no decision needed scores")
    fwk = Framework() if check.deleted == 0 else only(*DELETION_SAFE)
    snap = Snapshot.from_nodes(w.nodes, bound)
    fwk.handle.snapshot = snap
    for p in bound:
        pi = PodInfo(p)
        state = CycleState()
        _, status, _ = fwk.run_pre_filter(state, pi, snap.node_info_list)
        assert status.is_success(), (p["metadata"]["name"], status.message())
        ni = snap.get(p["spec"]["nodeName"]).clone()
        ni.remove_pod(pi.key)
        fwk.run_pre_filter_remove_pod(state, pi, pi, ni)
        status = fwk.run_filter_plugins(state, pi, ni)
        assert status.is_success(), (p["metadata"]["name"], p["spec"]["nodeName"], status.message())
    waiting = pending_that_fit(w.nodes, before_flush)
    if check.deleted == 0:
        assert waiting == {}, ("pending but fits, though nothing was preempted", waiting)
    elif waiting:
        event("a pod waited for the unschedulable flush after preemption")
    assert pending_that_fit(w.nodes, final) == {}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workload_strategy(max_pods=30))
def test_every_decision_follows_the_plugin_chain_and_nothing_is_overcommitted(w: Workload) -> None:
    run_workload(w)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workload_strategy(max_pods=80))
def test_every_decision_follows_the_plugin_chain_many_examples(w: Workload) -> None:
    run_workload(w)
