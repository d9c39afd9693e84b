"""The framework: plugins wired per extension point from profiles (the v1.32 default
profile, overrides, weights), out-of-tree plugins, Permit waiting, Reserve/Unreserve and
the extension point metrics."""

from __future__ import annotations

import random
from typing import Any

import pytest

from kubesim.components.scheduler.framework import Framework, go_duration
from kubesim.components.scheduler.interfaces import (
    MAX_NODE_SCORE,
    CycleState,
    FilterPlugin,
    PermitPlugin,
    ReservePlugin,
    ScorePlugin,
)
from kubesim.components.scheduler.metrics import SchedulerMetrics
from kubesim.components.scheduler.nodeinfo import NodeInfo, PodInfo
from kubesim.components.scheduler.profile import PluginRef, PluginSet, Profile
from kubesim.components.scheduler.registry import Registry, in_tree_registry
from kubesim.components.scheduler.scheduler import Assumed, Failure, Scheduler
from kubesim.components.scheduler.status import SUCCESS, Code, Status
from kubesim.runtime.metrics import MetricsRegistry

from .helpers import node, pod


def names(fwk: Framework, point: str) -> list[str]:
    return [p.name for p in fwk.points[point]]


def test_default_profile_matches_v1_32_without_volume_plugins():
    fwk = Framework()
    assert names(fwk, "preEnqueue") == ["SchedulingGates"]
    assert names(fwk, "queueSort") == ["PrioritySort"]
    assert names(fwk, "preFilter") == ["NodeAffinity", "NodePorts", "NodeResourcesFit",
                                       "PodTopologySpread", "InterPodAffinity"]
    assert names(fwk, "filter") == ["NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity",
                                    "NodePorts", "NodeResourcesFit", "PodTopologySpread", "InterPodAffinity"]
    assert names(fwk, "postFilter") == ["DefaultPreemption"]
    assert names(fwk, "preScore") == ["TaintToleration", "NodeAffinity", "NodeResourcesFit",
                                      "PodTopologySpread", "InterPodAffinity", "NodeResourcesBalancedAllocation"]
    assert fwk.score_weights == {"TaintToleration": 3, "NodeAffinity": 2, "NodeResourcesFit": 1,
                                 "PodTopologySpread": 2, "InterPodAffinity": 2,
                                 "NodeResourcesBalancedAllocation": 1, "ImageLocality": 1}
    assert names(fwk, "bind") == ["DefaultBinder"]


def test_profile_overrides_merge_onto_the_defaults():
    prof = Profile("custom", {
        "score": PluginSet([PluginRef("NodeResourcesFit", 5)], ["ImageLocality"]),
        "filter": PluginSet(disabled=["NodePorts"]),
    }, {"NodeResourcesFit": {"scoringStrategy": {"type": "MostAllocated"}}})
    fwk = Framework(prof)
    assert "ImageLocality" not in fwk.score_weights
    assert fwk.score_weights["NodeResourcesFit"] == 5
    assert names(fwk, "score")[0] == "NodeResourcesFit"  # an override comes first
    assert "NodePorts" not in names(fwk, "filter") and "NodePorts" in names(fwk, "preFilter")
    assert fwk.points["score"][0].strategy == "MostAllocated"


def test_disable_all_filters_but_one():
    fwk = Framework(Profile("x", {"filter": PluginSet([PluginRef("NodeName")], ["*"])}))
    assert names(fwk, "filter") == ["NodeName"]


def test_bad_profiles_are_rejected():
    with pytest.raises(ValueError, match="Nope does not exist in the plugin registry"):
        Framework(Profile("x", {"filter": PluginSet([PluginRef("Nope")])}))
    with pytest.raises(ValueError, match="plugin PrioritySort does not extend filter plugin"):
        Framework(Profile("x", {"filter": PluginSet([PluginRef("PrioritySort")])}))
    with pytest.raises(ValueError, match="one queue sort plugin required"):
        Framework(Profile("x", {"queueSort": PluginSet(disabled=["*"])}))
    with pytest.raises(ValueError, match="duplicate profile"):
        Scheduler([Profile("a"), Profile("a")])


class GpuOnly(FilterPlugin, ScorePlugin):
    """An out-of-tree plugin: only nodes labelled gpu=true, preferring more GPUs."""

    name = "GpuOnly"

    def filter(self, state: CycleState, pi: PodInfo, ni: NodeInfo) -> Status:
        if ni.labels.get("gpu") != "true":
            return Status.unresolvable("node(s) had no GPU")
        return SUCCESS

    def score(self, state: CycleState, pi: PodInfo, ni: NodeInfo) -> int:
        return min(int(ni.labels.get("gpus", "0")) * 10, MAX_NODE_SCORE)


def test_out_of_tree_plugin_from_user_code():
    registry = in_tree_registry().merged(Registry({GpuOnly.name: GpuOnly}))
    with pytest.raises(ValueError, match="already exists"):
        registry.register(GpuOnly)
    prof = Profile("gpu-scheduler", {"multiPoint": PluginSet([PluginRef("GpuOnly", 10)])})
    s = Scheduler([prof], registry)
    for n in (node("cpu", labels={"gpu": "false"}), node("gpu2", labels={"gpu": "true", "gpus": "2"}),
              node("gpu8", labels={"gpu": "true", "gpus": "8"})):
        s.on_node_add(n, 0.0)
    s.on_pod_add(pod("train", schedulerName="gpu-scheduler"), 0.0)
    out = s.schedule_next(0.0, random.Random(0))
    assert isinstance(out, Assumed) and out.node_name == "gpu8"
    assert s.frameworks["gpu-scheduler"].score_weights["GpuOnly"] == 10
    s.on_pod_add(pod("other", schedulerName="gpu-scheduler", nodeSelector={"gpu": "false"}), 0.0)
    out = s.schedule_next(0.0, random.Random(0))
    assert isinstance(out, Failure)
    assert out.message.startswith("0/3 nodes are available: 1 node(s) had no GPU, "
                                  "2 node(s) didn't match Pod's node affinity/selector.")


class Gate(PermitPlugin, ReservePlugin):
    """Makes every pod wait at Permit; remembers Reserve/Unreserve calls."""

    name = "Gate"
    timeout = 10.0

    def __init__(self, args: dict[str, Any] | None, handle: Any) -> None:
        super().__init__(args, handle)
        self.calls: list[str] = []

    def reserve(self, state: CycleState, pi: PodInfo, node_name: str) -> Status:
        self.calls.append(f"reserve {pi.name}")
        if pi.labels.get("reserve") == "fail":
            return Status.unschedulable("no room in the reservation")
        return SUCCESS

    def unreserve(self, state: CycleState, pi: PodInfo, node_name: str) -> None:
        self.calls.append(f"unreserve {pi.name}")

    def permit(self, state: CycleState, pi: PodInfo, node_name: str) -> tuple[Status, float]:
        return Status.wait(), self.timeout


def gated_scheduler() -> tuple[Scheduler, Gate]:
    registry = in_tree_registry().merged(Registry({Gate.name: Gate}))
    s = Scheduler([Profile("default-scheduler", {"multiPoint": PluginSet([PluginRef("Gate")])})], registry)
    s.on_node_add(node("n1"), 0.0)
    return s, s.frameworks["default-scheduler"]._instances["Gate"]


def test_permit_wait_then_allow():
    s, gate = gated_scheduler()
    s.on_pod_add(pod("p"), 0.0)
    a = s.schedule_next(0.0, random.Random(0))
    assert isinstance(a, Assumed) and a.waiting
    wp = a.framework.get_waiting_pod(a.qpi.key)
    seen = []
    wp.on_done = seen.append
    assert [w.pi.name for w in a.framework.iterate_over_waiting_pods()] == ["p"]
    wp.allow("Gate")
    assert seen == [SUCCESS]
    outcome = s.bind(a, wp.result, 1.0)
    assert outcome.binding["target"] == {"kind": "Node", "name": "n1"}
    assert a.framework.get_waiting_pod(a.qpi.key) is None


def test_permit_timeout_rejects_and_unreserves():
    s, gate = gated_scheduler()
    s.on_pod_add(pod("p"), 0.0)
    a = s.schedule_next(0.0, random.Random(0))
    wp = a.framework.get_waiting_pod(a.qpi.key)
    wp.time_out("Gate")
    assert wp.result.code == Code.UNSCHEDULABLE
    outcome = s.bind(a, wp.result, 10.0)
    f = outcome.failure
    assert f.message == "0/1 nodes are available: 1 rejected due to timeout after waiting 10s at plugin Gate."
    assert f.queue == "unschedulable" and gate.calls == ["reserve p", "unreserve p"]
    assert s.cache.assumed_count() == 0


def test_reserve_rejection_is_a_fit_error_on_the_chosen_node():
    s, gate = gated_scheduler()
    s.on_pod_add(pod("p", labels={"reserve": "fail"}), 0.0)
    out = s.schedule_next(0.0, random.Random(0))
    assert isinstance(out, Failure)
    assert out.message == "0/1 nodes are available: 1 no room in the reservation."
    assert gate.calls == ["reserve p", "unreserve p"] and s.cache.assumed_count() == 0


@pytest.mark.parametrize("seconds,text", [(10, "10s"), (0.5, "500ms"), (90, "1m30s"), (900, "15m0s"), (3661, "1h1m1s")])
def test_go_duration(seconds, text):
    assert go_duration(seconds) == text


def test_extension_point_metrics_carry_point_status_and_profile():
    registry = MetricsRegistry()
    s = Scheduler(metrics=SchedulerMetrics(registry.handle({})))
    s.on_node_add(node("n1", cpu="1"), 0.0)
    s.on_pod_add(pod("fits", cpu="100m"), 0.0)
    s.on_pod_add(pod("too-big", cpu="8"), 0.0)
    assert isinstance(s.schedule_next(0.0, random.Random(0)), Assumed)
    assert isinstance(s.schedule_next(0.0, random.Random(0)), Failure)

    def count(point: str, status: str) -> float | None:
        return registry.registry.get_sample_value(
            "scheduler_framework_extension_point_duration_seconds_count",
            {"extension_point": point, "status": status, "profile": "default-scheduler"})

    assert count("PreFilter", "Success") == 2
    assert count("Filter", "Success") == 2
    assert count("Reserve", "Success") == 1 and count("Permit", "Success") == 1
    assert count("PostFilter", "Unschedulable") == 1
    assert registry.registry.get_sample_value(
        "scheduler_schedule_attempts_total", {"result": "unschedulable", "profile": "default-scheduler"}) == 1
