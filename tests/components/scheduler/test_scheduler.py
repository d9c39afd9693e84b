"""The scheduler core: informer events into cache and queue, the scheduling cycle with
assume, the binding cycle steps, failures and requeues, several profiles."""

from __future__ import annotations

import random

from kubesim.components.scheduler.metrics import SchedulerMetrics
from kubesim.components.scheduler.profile import PluginRef, PluginSet, Profile
from kubesim.components.scheduler.scheduler import Assumed, Failure, Scheduler
from kubesim.components.scheduler.status import SUCCESS
from kubesim.runtime.metrics import MetricsRegistry

from .helpers import node, pod

RNG = random.Random(0)


def bound(p: dict, node_name: str) -> dict:
    return {**p, "metadata": {**p["metadata"], "resourceVersion": "2"},
            "spec": {**p["spec"], "nodeName": node_name}}


def test_cycle_assumes_then_binding_confirms():
    registry = MetricsRegistry()
    s = Scheduler(metrics=SchedulerMetrics(registry.handle({})))
    s.on_node_add(node("n1"), 0.0)
    p = pod("p", cpu="1")
    s.on_pod_add(p, 0.0)
    a = s.schedule_next(0.5, RNG)
    assert isinstance(a, Assumed) and a.node_name == "n1" and not a.waiting
    assert s.cache.is_assumed(a.pod) and s.cache.node_info("n1").requested.milli_cpu == 1000
    outcome = s.bind(a, SUCCESS, 0.5)
    assert outcome.binding == {"apiVersion": "v1", "kind": "Binding",
                               "metadata": {"namespace": "default", "name": "p", "uid": "uid-default-p"},
                               "target": {"kind": "Node", "name": "n1"}}
    assert s.finish_binding(a, None, 2.5) is None
    # The watch then shows the pod bound: the assumption becomes the real thing.
    s.on_pod_update(p, bound(p, "n1"), 3.0)
    assert not s.cache.is_assumed(a.pod) and s.cache.pod_count() == 1
    assert s.cache.node_info("n1").requested.milli_cpu == 1000
    assert registry.registry.get_sample_value(
        "scheduler_pod_scheduling_sli_duration_seconds_sum", {"attempts": "1"}) == 2.5
    assert registry.registry.get_sample_value(
        "scheduler_schedule_attempts_total", {"result": "scheduled", "profile": "default-scheduler"}) == 1


def test_next_pod_sees_the_assumed_one_before_it_is_bound():
    s = Scheduler()
    s.on_node_add(node("n1", cpu="1"), 0.0)
    s.on_pod_add(pod("a", cpu="600m"), 0.0)
    s.on_pod_add(pod("b", cpu="600m"), 0.0)
    assert isinstance(s.schedule_next(0.0, RNG), Assumed)
    out = s.schedule_next(0.0, RNG)
    assert isinstance(out, Failure)
    assert out.message.startswith("0/1 nodes are available: 1 Insufficient cpu.")


def test_failed_binding_forgets_the_pod_and_retries_after_backoff():
    s = Scheduler()
    s.on_node_add(node("n1", cpu="1"), 0.0)
    s.on_pod_add(pod("a", cpu="600m"), 0.0)
    s.on_pod_add(pod("b", cpu="600m"), 0.0)
    a = s.schedule_next(0.0, RNG)
    b = s.schedule_next(0.0, RNG)
    assert isinstance(b, Failure) and b.queue == "unschedulable"
    s.bind(a, SUCCESS, 0.0)
    f = s.finish_binding(a, 'Operation cannot be fulfilled on pods/binding "a": pod a is already assigned to node "x"', 0.1)
    assert f.reason == "SchedulerError" and f.queue == "backoff" and f.nominated_node == ""
    assert s.cache.assumed_count() == 0 and s.cache.node_info("n1").requested.milli_cpu == 0
    # Forgetting "a" counts as an assigned pod deleted: "b", rejected for cpu, may now fit.
    assert s.queue.where(pod("b")) in ("active", "backoff")


def test_pod_deleted_during_its_cycle_is_dropped():
    s = Scheduler()
    s.on_node_add(node("n1", cpu="1"), 0.0)
    p = pod("p", cpu="8")
    s.on_pod_add(p, 0.0)
    qpi = s.queue.pop()
    s.on_pod_delete(p, 0.0)
    assert s.queue.add_unschedulable_if_not_present(qpi, {"NodeResourcesFit"}, 0.0) == ""
    assert len(s.queue) == 0


def test_pods_bound_elsewhere_and_terminal_pods():
    s = Scheduler()
    s.on_node_add(node("n1", cpu="2"), 0.0)
    p = pod("p", cpu="1")
    s.on_pod_add(p, 0.0)
    # Another scheduler bound it first: it leaves the queue and enters the cache.
    s.on_pod_update(p, bound(p, "n1"), 1.0)
    assert len(s.queue) == 0 and s.cache.node_info("n1").requested.milli_cpu == 1000
    done = bound(p, "n1")
    done["status"] = {"phase": "Succeeded"}
    s.on_pod_update(bound(p, "n1"), done, 2.0)
    assert s.cache.node_info("n1").requested.milli_cpu == 0
    s.on_pod_add(done, 3.0)
    assert s.cache.pod_count() == 0


def test_node_update_moves_pods_its_change_can_help():
    s = Scheduler()
    s.on_node_add(node("n1", taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]), 0.0)
    s.on_pod_add(pod("p"), 0.0)
    out = s.schedule_next(0.0, RNG)
    assert isinstance(out, Failure) and out.queue == "unschedulable"
    s.on_node_update(node("n1", taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]),
                     node("n1", labels={"x": "y"}, taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]), 5.0)
    assert s.queue.where(pod("p")) == "unschedulable"  # labels do not matter to TaintToleration
    s.on_node_update(node("n1", taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]), node("n1"), 6.0)
    assert s.queue.where(pod("p")) == "active"
    assert isinstance(s.schedule_next(6.0, RNG), Assumed)


def test_two_profiles_each_pod_picks_its_scheduler():
    spread = Profile("default-scheduler")
    pack = Profile("bin-packer", {"multiPoint": PluginSet([PluginRef("NodeResourcesFit", 1)])},
                   {"NodeResourcesFit": {"scoringStrategy": {"type": "MostAllocated"}}})
    s = Scheduler([spread, pack])
    s.on_node_add(node("n1", cpu="4", memory="8Gi"), 0.0)
    s.on_node_add(node("n2", cpu="4", memory="8Gi"), 0.0)
    placed = {}
    for i in range(4):
        for name in ("default-scheduler", "bin-packer"):
            p = pod(f"{name}-{i}", cpu="500m", memory="1Gi", schedulerName=name)
            s.on_pod_add(p, 0.0)
            a = s.schedule_next(0.0, RNG)
            s.bind(a, SUCCESS, 0.0)
            s.finish_binding(a, None, 0.0)
            s.on_pod_update(p, bound(p, a.node_name), 0.0)
            placed.setdefault(name, []).append(a.node_name)
    # MostAllocated keeps filling one node; LeastAllocated (default) prefers the other one.
    assert len(set(placed["bin-packer"])) == 1
    other = "n1" if placed["bin-packer"][0] == "n2" else "n2"
    assert placed["default-scheduler"].count(other) >= 3
    # A pod for a scheduler this process does not run is none of its business.
    s.on_pod_add(pod("other", schedulerName="someone-else"), 0.0)
    assert len(s.queue) == 0 and s.schedule_next(0.0, RNG) is None


def test_no_nodes_is_unresolvable():
    s = Scheduler()
    s.on_pod_add(pod("p"), 0.0)
    out = s.schedule_next(0.0, RNG)
    assert isinstance(out, Failure)
    assert (out.message, out.reason, out.queue) == ("no nodes available to schedule pods", "Unschedulable", "backoff")
