"""DefaultPreemption: victim selection and node choice (after
plugins/defaultpreemption/default_preemption_test.go TestSelectNodesForPreemption and
TestPickOneNodeForPreemption, whose criteria these worked examples follow)."""

from __future__ import annotations

import random
from typing import Any

from kubesim.components.scheduler.metrics import SchedulerMetrics
from kubesim.components.scheduler.nodeinfo import PodInfo
from kubesim.components.scheduler.plugins.defaultpreemption import Candidate, pick_one_node
from kubesim.components.scheduler.scheduler import Assumed, Failure, Scheduler
from kubesim.components.scheduler.snapshot import ClusterObjects
from kubesim.runtime.metrics import MetricsRegistry

from .helpers import node, pod


def started(p: dict[str, Any], t: str) -> dict[str, Any]:
    p["status"]["startTime"] = t
    return p


def preempt(nodes, pods, preemptor, pdbs=()) -> Failure:
    s = Scheduler()
    for n in nodes:
        s.on_node_add(n, 0.0)
    for p in pods:
        s.on_pod_add(p, 0.0)
    s.snapshot.objects = ClusterObjects(pdbs=list(pdbs))
    s.on_pod_add(preemptor, 0.0)
    out = s.schedule_next(0.0, random.Random(0))
    assert isinstance(out, Failure), out
    return out


def names(pods) -> list[str]:
    return sorted(p["metadata"]["name"] for p in pods)


def test_lowest_priority_pods_go_first_and_higher_ones_are_reprieved():
    # One 1-cpu node with three 300m pods of priority 1, 2 and 3; a 500m pod of priority 10
    # needs two of them gone: the two lowest.
    n = node("n1", cpu="1")
    pods = [pod(f"p{i}", cpu="300m", node_name="n1", priority=i) for i in (1, 2, 3)]
    out = preempt([n], pods, pod("high", cpu="500m", priority=10))
    assert out.nominated_node == "n1"
    assert names(out.victims) == ["p1", "p2"]
    assert out.message == "0/1 nodes are available: 1 Insufficient cpu."


def test_higher_priority_pods_are_never_victims():
    n = node("n1", cpu="1")
    pods = [pod("same", cpu="600m", node_name="n1", priority=10), pod("low", cpu="300m", node_name="n1", priority=1)]
    out = preempt([n], pods, pod("p", cpu="500m", priority=10))
    assert out.nominated_node == ""
    assert out.victims == []
    assert "preemption: 0/1 nodes are available: 1 Insufficient cpu." in out.message


def test_node_with_lower_highest_victim_priority_is_picked():
    # Both nodes need one victim; n2's victim has the lower priority.
    nodes = [node("n1", cpu="1"), node("n2", cpu="1")]
    pods = [pod("a", cpu="800m", node_name="n1", priority=5), pod("b", cpu="800m", node_name="n2", priority=3)]
    out = preempt(nodes, pods, pod("p", cpu="500m", priority=10))
    assert (out.nominated_node, names(out.victims)) == ("n2", ["b"])


def test_fewest_victims_then_latest_start_time():
    # n1 needs two victims of priority 1, n2 one of priority 1: sums 2 vs 1 -> n2.
    nodes = [node("n1", cpu="1"), node("n2", cpu="1")]
    pods = [pod("a1", cpu="400m", node_name="n1", priority=1), pod("a2", cpu="400m", node_name="n1", priority=1),
            pod("b1", cpu="800m", node_name="n2", priority=1)]
    out = preempt(nodes, pods, pod("p", cpu="600m", priority=10))
    assert (out.nominated_node, names(out.victims)) == ("n2", ["b1"])
    # Same victims everywhere: the node whose victim started last loses the least work.
    pods = [started(pod("old", cpu="800m", node_name="n1", priority=1), "2024-01-01T00:00:00Z"),
            started(pod("new", cpu="800m", node_name="n2", priority=1), "2024-01-02T00:00:00Z")]
    out = preempt(nodes, pods, pod("p", cpu="600m", priority=10))
    assert (out.nominated_node, names(out.victims)) == ("n2", ["new"])


def test_pdb_violations_are_avoided_when_another_node_will_do():
    nodes = [node("n1", cpu="1"), node("n2", cpu="1")]
    pods = [pod("guarded", cpu="800m", node_name="n1", priority=1, labels={"app": "db"}),
            pod("free", cpu="800m", node_name="n2", priority=2)]
    pdb = {"metadata": {"name": "db", "namespace": "default"},
           "spec": {"selector": {"matchLabels": {"app": "db"}}}, "status": {"disruptionsAllowed": 0}}
    out = preempt(nodes, pods, pod("p", cpu="600m", priority=10), [pdb])
    # n1's victim has the lower priority, but evicting it would violate the budget.
    assert (out.nominated_node, names(out.victims)) == ("n2", ["free"])


def test_preemption_policy_never_and_pods_that_fit_nowhere():
    n = node("n1", cpu="1")
    pods = [pod("low", cpu="800m", node_name="n1", priority=1)]
    out = preempt([n], pods, pod("p", cpu="500m", priority=10, preemptionPolicy="Never"))
    assert out.victims == [] and out.nominated_node is None
    assert out.message.endswith("preemption: not eligible due to preemptionPolicy=Never..")
    out = preempt([n], pods, pod("huge", cpu="2", priority=10))
    assert out.victims == []
    assert out.message.endswith("preemption: 0/1 nodes are available: 1 Insufficient cpu..")


def test_unresolvable_nodes_are_not_candidates():
    nodes = [node("n1", cpu="1", taints=[{"key": "k", "effect": "NoSchedule"}]), node("n2", cpu="1")]
    pods = [pod("a", cpu="800m", node_name="n1", priority=1), pod("b", cpu="800m", node_name="n2", priority=4)]
    out = preempt(nodes, pods, pod("p", cpu="500m", priority=10))
    assert (out.nominated_node, names(out.victims)) == ("n2", ["b"])


def test_pick_one_node_order_of_criteria():
    def c(name, prios, pdb=0):
        return Candidate(name, [PodInfo(pod(f"{name}-{i}", priority=p)) for i, p in enumerate(prios)], pdb)
    assert pick_one_node([c("a", [1], 1), c("b", [9])]).name == "b"          # fewer PDB violations
    assert pick_one_node([c("a", [5, 1]), c("b", [4, 4])]).name == "b"       # lower highest priority
    assert pick_one_node([c("a", [4, 4]), c("b", [4, 1])]).name == "b"       # lower sum
    assert pick_one_node([c("a", [4, -5, -5]), c("b", [4, -5])]).name == "b"  # sum counts MaxInt32+1 each
    assert pick_one_node([c("a", [4, 4]), c("b", [4, 4])]).name == "a"       # ties: first candidate


def test_preemptor_is_nominated_and_lands_there_once_victims_are_gone():
    registry = MetricsRegistry()
    s = Scheduler(metrics=SchedulerMetrics(registry.handle({})))
    s.on_node_add(node("n1", cpu="1"), 0.0)
    victim = pod("low", cpu="800m", node_name="n1", priority=1)
    s.on_pod_add(victim, 0.0)
    high = pod("high", cpu="500m", priority=10)
    s.on_pod_add(high, 0.0)
    out = s.schedule_next(0.0, random.Random(0))
    assert isinstance(out, Failure) and out.nominated_node == "n1" and names(out.victims) == ["low"]
    assert s.queue.nominated_node(out.qpi.key) == "n1"
    assert registry.registry.get_sample_value("scheduler_preemption_attempts_total") == 1
    assert registry.registry.get_sample_value("scheduler_preemption_victims_sum") == 1
    # The victim's deletion (as the informer reports it) moves the preemptor back.
    s.on_pod_delete(victim, 0.5)
    s.queue.flush_backoff_completed(1.0)
    nominated = {**high, "status": {"phase": "Pending", "nominatedNodeName": "n1"}}
    s.on_pod_update(high, nominated, 1.0)
    out = s.schedule_next(1.0, random.Random(0))
    assert isinstance(out, Assumed) and out.node_name == "n1"
    assert s.queue.nominated_node(out.qpi.key) is None


def test_nominated_pod_keeps_its_room_from_lower_priority_pods():
    s = Scheduler()
    s.on_node_add(node("n1", cpu="1"), 0.0)
    # A preemptor nominated to n1 and waiting out its backoff.
    s.queue.add_nomination(PodInfo(pod("big", cpu="800m", priority=10)), "n1")
    s.on_pod_add(pod("small", cpu="500m", priority=1), 0.0)
    out = s.schedule_next(0.0, random.Random(0))
    assert isinstance(out, Failure)
    assert out.message.startswith("0/1 nodes are available: 1 Insufficient cpu.")
    # A pod of higher priority than the nominated one ignores the nomination.
    s.on_pod_add(pod("urgent", cpu="500m", priority=20), 0.0)
    out = s.schedule_next(0.0, random.Random(0))
    assert isinstance(out, Assumed) and out.node_name == "n1"
