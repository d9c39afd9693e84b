"""The in-tree plugins' QueueingHints: which cluster events may make a pod they rejected
schedulable (after each plugin's *_test.go Test..._IsSchedulableAfter... cases)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubesim.components.scheduler.framework import Framework
from kubesim.components.scheduler.interfaces import QueueingHint
from kubesim.components.scheduler.snapshot import Snapshot

from .helpers import node, pod

Q, S = QueueingHint.QUEUE, QueueingHint.SKIP
FWK = Framework()
FWK.handle.snapshot = Snapshot.from_nodes([])


def hint(plugin: str, resource: str) -> Callable[[dict[str, Any], Any, Any], QueueingHint]:
    regs = [r for r in FWK._instances[plugin].events_to_register() if r.event.resource == resource]
    assert len(regs) == 1 and regs[0].hint is not None
    return regs[0].hint


def test_node_resources_fit():
    on_pod, on_node = hint("NodeResourcesFit", "Pod"), hint("NodeResourcesFit", "Node")
    p = pod("p", cpu="4")
    assert on_pod(p, pod("gone", node_name="n1"), None) == Q
    assert on_pod(p, pod("pending"), None) == S
    assert on_node(p, None, node("big", cpu="8")) == Q
    assert on_node(p, None, node("small", cpu="2")) == S
    assert on_node(p, node("n", cpu="2"), node("n", cpu="8")) == Q
    assert on_node(p, node("n", cpu="8", memory="4Gi"), node("n", cpu="8", memory="8Gi")) == S  # cpu did not grow
    assert on_node(pod("q", memory="6Gi"), node("n", cpu="8", memory="4Gi"), node("n", cpu="8", memory="8Gi")) == Q


def test_taint_toleration():
    on_node, on_pod = hint("TaintToleration", "Node"), hint("TaintToleration", "Pod")
    taint = {"key": "k", "value": "v", "effect": "NoSchedule"}
    p = pod("p")
    assert on_node(p, node("n", taints=[taint]), node("n")) == Q
    assert on_node(p, node("n", taints=[taint]), node("n", taints=[taint], labels={"a": "b"})) == S
    assert on_node(p, None, node("n")) == Q
    assert on_node(p, node("n"), node("n")) == S  # was never a problem
    assert on_pod(p, p, pod("p", tolerations=[{"operator": "Exists"}])) == Q
    assert on_pod(p, pod("other"), pod("other", tolerations=[{"operator": "Exists"}])) == S


def test_node_affinity():
    on_node = hint("NodeAffinity", "Node")
    p = pod("p", nodeSelector={"disk": "ssd"})
    assert on_node(p, None, node("n", labels={"disk": "ssd"})) == Q
    assert on_node(p, None, node("n")) == S
    assert on_node(p, node("n"), node("n", labels={"disk": "ssd"})) == Q
    assert on_node(p, node("n", labels={"disk": "ssd"}), node("n", labels={"disk": "ssd", "x": "y"})) == S


def test_node_unschedulable():
    on_node = hint("NodeUnschedulable", "Node")
    assert on_node(pod("p"), node("n", unschedulable=True), node("n")) == Q
    assert on_node(pod("p"), node("n"), node("n", unschedulable=True)) == S
    assert on_node(pod("p"), None, node("n")) == Q


def test_node_ports():
    on_pod = hint("NodePorts", "Pod")
    port80 = [{"name": "c", "image": "i", "ports": [{"containerPort": 80, "hostPort": 80}]}]
    port81 = [{"name": "c", "image": "i", "ports": [{"containerPort": 81, "hostPort": 81}]}]
    p = pod("p", containers=port80)
    assert on_pod(p, pod("old", node_name="n", containers=port80), None) == Q
    assert on_pod(p, pod("old", node_name="n", containers=port81), None) == S
    assert on_pod(p, pod("old", containers=port80), None) == S  # never placed


def test_pod_topology_spread():
    on_pod = hint("PodTopologySpread", "Pod")
    spread = [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": {"app": "web"}}}]
    p = pod("p", labels={"app": "web"}, topologySpreadConstraints=spread)
    assert on_pod(p, None, pod("w", node_name="n", labels={"app": "web"})) == Q
    assert on_pod(p, None, pod("x", node_name="n", labels={"app": "db"})) == S
    assert on_pod(p, None, pod("w", node_name="n", labels={"app": "web"}, namespace="other")) == S
    assert on_pod(p, None, pod("w", labels={"app": "web"})) == S  # not placed
    assert on_pod(p, pod("w", node_name="n", labels={"app": "web"}), None) == Q
    assert on_pod(p, pod("w", node_name="n", labels={"app": "web"}),
                  pod("w", node_name="n", labels={"app": "db"})) == Q
    assert on_pod(p, pod("w", node_name="n", labels={"app": "web"}),
                  pod("w", node_name="n", labels={"app": "web", "v": "2"})) == S


def test_inter_pod_affinity():
    on_pod = hint("InterPodAffinity", "Pod")
    term = [{"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"}]
    wants_db = pod("p", affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": term}})
    avoids_db = pod("q", affinity={"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": term}})
    db = pod("db", node_name="n", labels={"app": "db"})
    web = pod("web", node_name="n", labels={"app": "web"})
    assert on_pod(wants_db, None, db) == Q
    assert on_pod(wants_db, None, web) == S
    assert on_pod(avoids_db, db, None) == Q
    assert on_pod(avoids_db, web, None) == S
    # An existing pod whose own anti-affinity kept the pod out goes away.
    blocker = pod("b", node_name="n", labels={"app": "db"}, affinity={"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "zone"}]}})
    assert on_pod(pod("w", labels={"app": "web"}), blocker, None) == Q
    assert on_pod(wants_db, None, pod("db", labels={"app": "db"})) == S  # not placed
